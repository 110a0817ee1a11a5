"""Reports in words: kinds and statuses (contracts/vocabulary.py), the acknowledgement a reporter
reads, and a report as its reporter and as quality staff see it."""
from __future__ import annotations

from contracts.vocabulary import REPORT_KIND_NAMES, REPORT_STATUS_NAMES
from services.common.i18n import N_
from services.exchange.domain.reports import Report
from services.exchange.entrypoints import wording as w

ACK_TITLE = N_("Thank you. We got your report.")
ACK_MESSAGE = N_("Your reference is {reference}. Keep it. You can use it to ask about your report.")
ACK_NEXT = N_("Our quality team will read it and tell you what they do. See its status under My reports.")
ACK_NEXT_ANONYMOUS = N_("Our quality team will read it. We did not keep your name. "
                        "Use the reference to follow your report.")


def words(code: str, names: dict, lang: str) -> dict:
    return {"code": code, "text": w.t(names[code], lang)}


def item(report: Report, lang: str, with_comment: bool = True) -> dict:
    """REPORT as its reporter follows it, in LANG (the comment left out for a follow by reference)."""
    body = {"id": report.id, "reference": report.reference,
            "kind": words(report.kind, REPORT_KIND_NAMES, lang),
            "status": words(report.status, REPORT_STATUS_NAMES, lang), "note": report.note,
            "about": dict(report.about), "received": w.long_date(report.received_at, lang),
            "closed": w.long_date(report.closed_at, lang) if report.closed_at else None}
    if with_comment:
        body["comment"] = report.text
    return body


def acknowledgement(report: Report, lang: str) -> dict:
    """What a reporter reads once the report is stored: the reference and what happens next."""
    anonymous = report.reporter_kind == "anonymous-staff"
    return {"title": w.t(ACK_TITLE, lang), "message": w.t(ACK_MESSAGE, lang, reference=report.reference),
            "next_step": w.t(ACK_NEXT_ANONYMOUS if anonymous else ACK_NEXT, lang)}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def staff_item(report: Report, lang: str, names: w.Names) -> dict:
    """REPORT as quality staff triage it: who reported (nothing for an anonymous one), where it is
    routed (the departments named by NAMES), who is assigned, its links and version."""
    dept = ({"department": report.department, "display": w.department(report.department, lang, names)}
            if report.department else None)
    return {**item(report, lang), "reporter": report.reporter(), "department": dept,
            "assignee": {"sub": report.assignee, "fhirUser": report.assignee_user} if report.assignee else None,
            "links": {k: report.links.get(k) for k in ("correction_request", "break_glass_review", "disclosure")},
            "version": report.version, "language": report.language,
            "received_at": report.received_at.isoformat(), "acknowledged_at": _iso(report.acknowledged_at),
            "closed_at": _iso(report.closed_at)}
