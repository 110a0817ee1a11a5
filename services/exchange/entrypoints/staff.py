"""Staff-facing exchange API: a department's people (user/ scopes) see their department's
requests with what to do next, ask for records as the department does, review the
break-the-glass claims on the department's patients, and read every release of those patients'
records (the accounting of disclosures, 45 CFR 164.528). The department is the token's dept
claim, the person its sub and fhirUser; another department's items are not found."""
from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request, url_for

from contracts.schemas.exchange import ExchangeRequestSchema, ReviewBodySchema
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common import paging, tracing
from services.common.problem import Problem
from services.exchange.domain import model as m
from services.exchange.domain import staff as rules
from services.exchange.entrypoints import wording as w
from services.exchange.entrypoints.common import department, lang, load, next_cursor, page_args, service
from services.exchange.domain.staff import Review
from services.exchange.service_layer import queries, reviews

_REQUEST, _REVIEW = ExchangeRequestSchema(), ReviewBodySchema()
blp = Blueprint("staff", __name__)


def register(app: Flask) -> None:
    """Add the staff-facing routes to APP."""
    app.register_blueprint(blp)


def person() -> dict:
    """The member of staff asking: {sub, fhirUser} of the token."""
    fhir_user = g.claims.get("fhirUser")
    return {"sub": str(g.claims["sub"]), "fhirUser": str(fhir_user) if fhir_user else None}


def request_item(row: m.ExchangeRequest, language: str, names: w.Names) -> dict:
    """One request as its department's staff see it: status, the reason and the next step in
    words (the department named by NAMES, the directory's names)."""
    step = rules.next_step(row.outcome)
    dept_name = w.department(row.requester, language, names)
    next_step = {"code": step, "text": w.next_step_text(row.outcome, row.resource_types, dept_name, language)}
    if step == rules.ASK_PATIENT:
        # what a sharing request to the patient would name, so a page can offer it as it is
        next_step.update(patient=row.patient, classes=list(row.resource_types), purpose=row.purpose,
                         exchange_request=row.id)
    return {"id": row.id, "status": row.status, "outcome": w.outcome(row.outcome, language),
            "patient": row.patient, "purpose": row.purpose, "resource_types": row.resource_types,
            "records": [w.record_kind(kind, language) for kind in row.resource_types],
            "requested_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "requested_by": ({"sub": row.requested_by, "fhirUser": row.requested_by_user}
                             if row.requested_by else None),
            "resource_count": row.resource_count, "ledger_seq": row.ledger_seq,
            "redacted": ({"labels": row.redact_labels, "count": row.redacted_count or 0}
                         if row.status == m.FULFILLED else None),
            "next_step": next_step}


@blp.get("/staff/v1/inbox")
def inbox():
    require_scope("user", "Exchange", "r")
    dept = department()
    limit, offset = page_args("inbox")
    rows, more = queries.inbox(service().uow(write=False), dept, limit, offset)
    language, names = lang(), service().directory.name
    items = [request_item(r, language, names) for r in rows]
    return jsonify({"items": items, "next": next_cursor("inbox", offset, items, more)})


# -- revocation receipts: notices to the department when a consent it received records under ended --

def notice_item(notice, delivery: dict | None, language: str, names: w.Names, tries: list[dict] | None = None) -> dict:
    """One notice as the department's staff read it, in LANGUAGE."""
    title, text = w.ENDED_NOTICES[notice.kind]
    dept = w.department(notice.department, language, names)
    webhook = None
    if delivery is not None:
        webhook = {"status": {"code": delivery["status"], "display": w.t(w.DELIVERY_STATES[delivery["status"]], language)},
                   "attempts": delivery["attempts"],
                   "delivered_at": delivery["delivered_at"].isoformat() if delivery["delivered_at"] else None}
        if tries is not None:
            # each try's outcome only: what went wrong stays in the exchange's log, so that a URL
            # cannot make the inbox a probe of inside networks (services/common/outbound.py); a
            # status code is one the department's own receiver answered, after the policy let it be reached
            webhook["tries"] = [{"attempt": t["attempt"], "at": t["at"].isoformat(), "status_code": t["status_code"],
                                 "outcome": "delivered" if t["error"] is None else "failed"} for t in tries]
    return {"id": notice.id, "kind": notice.kind, "title": w.t(title, language),
            "text": w.t(text, language, department=dept), "patient": notice.patient,
            "consent": {"id": notice.consent_id, "version": notice.consent_version,
                        "ended_at": notice.ended_at.isoformat()},
            "date": w.long_date(notice.created_at, language),
            "releases": [{"request_id": x["request_id"], "ledger_seq": x["ledger_seq"],
                          "released_at": x["released_at"], "date": w.long_date(x["released_at"], language),
                          "records": [w.record_kind(k, language) for k in x["resource_types"]],
                          "resource_count": x["resource_count"]} for x in notice.releases],
            "webhook": webhook}


@blp.get("/staff/v1/inbox/notices")
def list_notices():
    """The department's notices, newest first."""
    require_scope("user", "Communication", "rs")
    dept = department()
    limit, offset = page_args("inbox-notices")
    page, deliveries, more = queries.notices(service().uow(write=False), dept, limit, offset)
    language, names = lang(), service().directory.name
    items = [notice_item(n, deliveries.get(n.id), language, names) for n in page]
    return jsonify({"items": items, "next": next_cursor("inbox-notices", offset, items, more)})


@blp.get("/staff/v1/inbox/notices/<notice_id>")
def get_notice(notice_id: str):
    require_scope("user", "Communication", "r")
    found, delivery, tries = queries.notice(service().uow(write=False), notice_id[:64], department())
    if found is None:
        raise Problem(404, N_("Not Found"), N_("There is no notice with that id for you."))
    return jsonify(notice_item(found, delivery, lang(), service().directory.name, tries))


@blp.post("/staff/v1/requests")
def create_request():
    """Ask for records exactly as the department does (the same flow), keeping who asked."""
    require_scope("user", "Exchange", "c")
    dept = department()
    body = load(_REQUEST)
    with service().uow() as uow:
        row = service().flow.submit(uow, body["patient"], dept, body["purpose"],
                                    list(dict.fromkeys(body["resource_types"])), body.get("reason"),
                                    requested_by=person(), traceparent=tracing.current_traceparent())
    resp = jsonify({"id": row["id"], "status": row["status"]})
    resp.status_code = 202
    resp.headers["Location"] = url_for(".get_request", request_id=row["id"])
    return resp


@blp.get("/staff/v1/requests/<request_id>")
def get_request(request_id: str):
    require_scope("user", "Exchange", "r")
    row = queries.request_for(service().uow(write=False), request_id, department())
    if row is None:
        raise Problem(404, N_("Not Found"), N_("There is no exchange request with that id for you."))
    return jsonify(request_item(row, lang(), service().directory.name))


# -- break-the-glass reviews (privacy officers) --------------------------------------------------

def _released(entries: list[dict], language: str) -> tuple[dict, dict]:
    """What was released under a claim (its ledger entries) and what was kept back, in words."""
    shown, labels = [], []
    for e in entries:
        kinds = list(dict.fromkeys(e.get("resource_types") or []))
        shown.append({"ledger_seq": e["seq"], "request_id": e["request_id"], "released_at": e["released_at"],
                      "records": [w.record_kind(k, language) for k in kinds],
                      "resource_count": int(e.get("resource_count") or 0),
                      "redacted_count": int(e.get("redacted_count") or 0)})
        labels.extend(e.get("redacted_labels") or [])
    released = {"count": sum(x["resource_count"] for x in shown), "entries": shown}
    redacted = {"count": sum(x["redacted_count"] for x in shown),
                "labels": [w.label_coding(label, language) for label in dict.fromkeys(labels)]}
    return released, redacted


def review_item(item: Review, entries: list[dict], language: str, names: w.Names) -> dict:
    """One claim as the custodian's privacy officers see it, with its words in LANGUAGE; whether
    it is overdue and how long it waited by the service's clock."""
    now = service().flow.clock()
    released, redacted = _released(entries, language)
    waited = item.waited(now)
    step = item.next_step(now)
    review = None
    if item.reviewed_at is not None:
        review = {"outcome": {"code": item.outcome, "text": w.t(w.REVIEW_OUTCOMES[item.outcome], language)},
                  "note": item.note, "reviewed_by": {"sub": item.reviewer, "fhirUser": item.reviewer_user},
                  "reviewed_at": item.reviewed_at.isoformat()}
    return {"id": item.claim_id, "patient": item.patient,
            "department": {"department": item.department, "display": w.department(item.department, language, names)},
            "claimed_by": {"sub": item.claimed_by, "fhirUser": item.claimed_by_user} if item.claimed_by else None,
            "claimed_at": item.claimed_at.isoformat(), "date": w.long_date(item.claimed_at, language),
            "expires_at": item.expires_at.isoformat() if item.expires_at else None,
            "reason": item.reason,
            "sensitive": [{"label": w.label_coding(s["label"], language), "reason": s["reason"]}
                          for s in item.sensitive],
            "priority": item.priority, "status": item.status, "overdue": item.overdue(now),
            "due_at": item.due_at.isoformat(),
            "waited": {"seconds": int(waited.total_seconds()), "text": w.duration(waited, language)},
            "released": released, "redacted": redacted, "review": review,
            "next_step": {"code": step, "text": w.t(w.REVIEW_NEXT_STEPS[step], language)}}


def _not_found() -> Problem:
    return Problem(404, N_("Not Found"), N_("There is no break-the-glass claim with that id for you."))


def disclosure_item(entry: dict, language: str, names: w.Names) -> dict:
    """One ledger entry as the custodian's privacy officers read it (departments named by NAMES)."""
    emergency = entry.get("basis") == "break-glass"
    kinds = list(dict.fromkeys(entry.get("resource_types") or []))
    return {"id": str(entry["seq"]), "patient": entry["patient"],
            "recipient": {"department": entry["recipient"],
                          "display": w.department(entry["recipient"], language, names)},
            "purpose": w.purpose_coding(entry["purpose"], language),
            "records": [w.record_kind(kind, language) for kind in kinds],
            "date": w.long_date(entry["released_at"], language), "released_at": entry["released_at"],
            "basis": "break-glass" if emergency else "consent",
            "consent": None if emergency else {"id": entry.get("consent_id"), "version": entry.get("consent_version")},
            "break_glass_id": entry.get("break_glass_id") if emergency else None,
            "withheld": int(entry.get("redacted_count") or 0),
            "requested_by": ({"sub": entry["requested_by"], "fhirUser": entry.get("requested_by_user")}
                             if entry.get("requested_by") else None),
            "ledger": {"seq": entry["seq"], "hash": entry["hash"]}}


@blp.get("/staff/v1/disclosures")
def list_disclosures():
    """The releases of the department's patients' records, newest first (?patient= one's only)."""
    require_scope("user", "AuditEvent", "rs")
    dept = department()
    patient = request.args.get("patient")
    if patient is not None and not 1 <= len(patient) <= 64:
        raise Problem(422, N_("Unprocessable Content"), N_("Use a patient id of 1 to 64 characters."),
                      slug="invalid-input", fields=["patient"])
    # The cursor holds the sequence number of the page's last entry, not an offset: releases made
    # while an officer pages come before it and shift nothing (0: from the newest).
    limit, before = page_args("staff-disclosures")
    entries, more = queries.department_disclosures(service().uow(write=False), dept, patient, limit, before or None)
    language, names = lang(), service().directory.name
    items = [disclosure_item(e, language, names) for e in entries]
    after = paging.encode("staff-disclosures", entries[-1]["seq"]) if more and entries else None
    return jsonify({"items": items, "next": after})


@blp.get("/staff/v1/break-glass-reviews")
def list_reviews():
    require_scope("user", "BreakGlassReview", "rs")
    dept = department()
    status = request.args.get("status")
    if status is not None and status not in (rules.OPEN, rules.REVIEWED):
        raise Problem(422, N_("Unprocessable Content"), N_("Use a status of open or reviewed."),
                      slug="invalid-input", fields=["status"])
    limit, offset = page_args("break-glass-reviews")
    page, more = reviews.queue(service().uow(write=False), dept, status, limit, offset)
    language, names = lang(), service().directory.name
    items = [review_item(item, entries, language, names) for item, entries in page]
    return jsonify({"items": items, "next": next_cursor("break-glass-reviews", offset, items, more)})


@blp.get("/staff/v1/break-glass-reviews/<claim_id>")
def get_review(claim_id: str):
    require_scope("user", "BreakGlassReview", "r")
    try:
        found, entries = reviews.item(service().uow(write=False), claim_id, department())
    except reviews.NotFound:
        raise _not_found() from None
    return jsonify(review_item(found, entries, lang(), service().directory.name))


@blp.post("/staff/v1/break-glass-reviews/<claim_id>")
def post_review(claim_id: str):
    """Record the finding once, with the reviewer and the time; the patient is told."""
    require_scope("user", "BreakGlassReview", "u")
    dept = department()
    body = load(_REVIEW)
    svc = service()
    try:
        reviews.review(svc.uow(), claim_id, dept, body["outcome"], body.get("note"), person(), svc.flow.clock())
    except reviews.NotFound:
        raise _not_found() from None
    except rules.NoteRequired:
        raise Problem(422, N_("Unprocessable Content"),
                      N_("Say in a note why the emergency access was not needed."),
                      slug="invalid-input", fields=["note"]) from None
    except rules.AlreadyReviewed:
        raise Problem(409, N_("Conflict"),
                      N_("This claim was reviewed already. A review is recorded once.")) from None
    found, entries = reviews.item(svc.uow(write=False), claim_id, dept)
    return jsonify(review_item(found, entries, lang(), svc.directory.name))
