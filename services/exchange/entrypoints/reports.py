"""Reports over HTTP: patients and caregivers report and follow their own (/patient/v1/reports),
staff report, maybe anonymously, and follow theirs (/staff/v1/reports/mine, or by reference),
and a department's quality staff triage theirs (/staff/v1/reports)."""
from __future__ import annotations

import re

from flask import Blueprint, Flask, g, jsonify, request, url_for

from contracts.schemas.reports import ReportBodySchema, TriageBodySchema
from contracts.vocabulary import REPORT_KINDS, REPORT_STATUSES
from services.common import i18n
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.domain import reports as rules
from services.exchange.entrypoints import report_wording as rw
from services.exchange.entrypoints.common import department, lang, load, next_cursor, page_args, service
from services.exchange.entrypoints.staff import person
from services.exchange.service_layer import reports

_BODY, _TRIAGE = ReportBodySchema(), TriageBodySchema()
blp = Blueprint("reports", __name__)

#: A refusal's code (domain/reports.py Refused) -> (the field, what to do instead).
_REFUSALS = {
    "anonymous": ("anonymous", N_("Only staff may report without their name. Send it with anonymous false.")),
    "kind": ("kind", N_("Only staff may report a near miss or safety incident. Choose another kind.")),
    "about": ("about", N_("Say what the report is about: a record item, a page and its words, or a disclosure.")),
    "disclosure": ("about.disclosure", N_("Choose a disclosure from the list of who saw the records.")),
}


#: A refused link or assignee (service_layer/reports.py BadLink) -> what to do instead. The same
#: words for something unknown and something of another patient or department: the answer does
#: not tell which exists.
_BAD_LINKS = {
    "links.correction_request": N_("Link a correction request of your department for the same patient."),
    "links.break_glass_review": N_("Link an emergency access review of your department for the same patient."),
    "links.disclosure": N_("Link a disclosure of your department's records for the same patient."),
    "assignee": N_("Assign the report to an active member of your department's quality team."),
}


def register(app: Flask) -> None:
    """Add the report routes to APP."""
    app.register_blueprint(blp)


def _refused(exc: rules.Refused) -> Problem:
    field, text = _REFUSALS[exc.code]
    return Problem(422, N_("Unprocessable Content"), text, slug="invalid-input", fields=[field])


def _not_found() -> Problem:
    return Problem(404, N_("Not Found"), N_("There is no report with that id for you."))


def _patient(interactions: str) -> tuple[str, i18n.Language]:
    """The token's patient and the language to answer in (header, else the token's locale)."""
    claims = require_scope("patient", "Report", interactions)
    language = i18n.use_preferred(claims.get("locale"))
    if not claims.get("patient"):
        raise Problem(403, N_("Forbidden"), N_("This token is not linked to a patient record."),
                      next_step=N_("Sign in to the patient portal again."))
    return str(claims["patient"]), language


@blp.post("/patient/v1/reports")
def patient_report():
    """A patient (or a caregiver acting for them) reports a problem; the acknowledgement is in
    their language, with the reference and what happens next."""
    patient, language = _patient("c")
    body = load(_BODY)
    acting = (g.claims.get("act") or {}).get("sub")
    svc = service()
    try:
        report = reports.file(svc.uow(), body["kind"], body["about"], body["text"], language.used,
                              svc.flow.clock(), patient=patient, acting=str(acting) if acting else None,
                              anonymous=body["anonymous"], correction_request=body.get("correction_request"))
    except rules.Refused as exc:
        raise _refused(exc) from None
    resp = jsonify({**rw.item(report, language.used), "acknowledgement": rw.acknowledgement(report, language.used),
                    "language": i18n.language_block(language)})
    resp.status_code = 201
    resp.headers["Location"] = url_for(".patient_get", report_id=report.id)
    return resp


@blp.get("/patient/v1/reports")
def patient_list():
    patient, language = _patient("s")
    limit, offset = page_args("reports")
    rows, more = reports.mine_as_patient(service().uow(write=False), patient, limit, offset)
    items = [rw.item(r, language.used) for r in rows]
    return jsonify({"items": items, "next": next_cursor("reports", offset, items, more),
                    "language": i18n.language_block(language)})


@blp.get("/patient/v1/reports/<report_id>")
def patient_get(report_id: str):
    patient, language = _patient("r")
    try:
        report = reports.of_patient(service().uow(write=False), report_id, patient)
    except reports.NotFound:
        raise _not_found() from None
    return jsonify({**rw.item(report, language.used), "language": i18n.language_block(language)})


# -- staff ------------------------------------------------------------------------------------

@blp.post("/staff/v1/reports")
def staff_report():
    """Any member of staff reports a problem; with anonymous true no person is kept."""
    require_scope("user", "Report", "c")
    dept = department()
    body = load(_BODY)
    svc, language = service(), lang()
    try:
        report = reports.file(svc.uow(), body["kind"], body["about"], body["text"], language, svc.flow.clock(),
                              staff=person(), department=dept, anonymous=body["anonymous"])
    except rules.Refused as exc:
        raise _refused(exc) from None
    resp = jsonify({**rw.item(report, language), "acknowledgement": rw.acknowledgement(report, language)})
    resp.status_code = 201
    if not body["anonymous"]:
        resp.headers["Location"] = url_for(".staff_follow", reference=report.reference)
    return resp


@blp.get("/staff/v1/reports/mine")
def staff_mine():
    """A named member of staff's own reports (an anonymous one is followed by its reference only)."""
    require_scope("user", "Report", "r")
    department()
    limit, offset = page_args("my-reports")
    rows, more = reports.mine_as_staff(service().uow(write=False), person()["sub"], limit, offset)
    items = [rw.item(r, lang()) for r in rows]
    return jsonify({"items": items, "next": next_cursor("my-reports", offset, items, more)})


@blp.get("/staff/v1/reports/follow/<reference>")
def staff_follow(reference: str):
    """An anonymous report's status by its reference, the one way its reporter can follow it: the
    kind, status, note and dates, never the text. A named report is followed under /mine only, so
    a reference passed on never shows another department's report."""
    require_scope("user", "Report", "r")
    department()
    if len(reference) > 40:
        raise _not_found()
    try:
        report = reports.by_reference(service().uow(write=False), reference)
    except reports.NotFound:
        raise _not_found() from None
    return jsonify(rw.item(report, lang(), with_comment=False))


def _one_of(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise Problem(422, N_("Unprocessable Content"), N_("These fields are not valid: {fields}."),
                      slug="invalid-input", params={"fields": name}, fields=[name])
    return value


@blp.get("/staff/v1/reports")
def quality_queue():
    """The department's quality queue (and the reports no department is shown for): open first,
    then the oldest; ?kind= and ?status= narrow it."""
    require_scope("user", "Report", "rs")
    dept = department()
    kind, status = _one_of("kind", REPORT_KINDS), _one_of("status", REPORT_STATUSES)
    limit, offset = page_args("report-queue")
    rows, more = reports.queue(service().uow(write=False), dept, kind, status, limit, offset)
    language, names = lang(), service().directory.name
    items = [rw.staff_item(r, language, names) for r in rows]
    return jsonify({"items": items, "next": next_cursor("report-queue", offset, items, more)})


@blp.get("/staff/v1/reports/hard-words")
def quality_hard_words():
    """The words readers found hard in the department's reports (and those no department is shown
    for), counted by language and page, the most named first: what the wording review starts
    with (``make wording-review`` prints them next to the catalog entries holding them)."""
    require_scope("user", "Report", "rs")
    found = reports.hard_words(service().uow(write=False), department())
    return jsonify({"items": [{"language": h.language, "page": h.page, "words": h.words, "count": h.count}
                              for h in found]})


def _tagged(report, status: int = 200):
    resp = jsonify(rw.staff_item(report, lang(), service().directory.name))
    resp.status_code = status
    resp.headers["ETag"] = f'W/"{report.version}"'
    return resp


@blp.get("/staff/v1/reports/<report_id>")
def quality_get(report_id: str):
    require_scope("user", "Report", "rs")
    try:
        report = reports.for_quality(service().uow(write=False), report_id, department())
    except reports.NotFound:
        raise _not_found() from None
    return _tagged(report)


_ETAG = re.compile(r'^(?:W/)?"([0-9]{1,9})"$')


def _version() -> int | None:
    """The version the caller read, from If-Match (RFC 9110 section 13.1.1): None when missing,
    -1 when it names no version of ours (it matches none)."""
    given = request.headers.get("If-Match")
    if given is None:
        return None
    found = _ETAG.match(given.strip())
    return int(found.group(1)) if found else -1


@blp.post("/staff/v1/reports/<report_id>")
def quality_triage(report_id: str):
    """Assign, move the status with a note, or link a report, as one who read its ETag."""
    require_scope("user", "Report", "u")
    dept = department()
    body = load(_TRIAGE)
    version, svc = _version(), service()
    changes = {k: body[k] for k in ("status", "note", "assignee") if k in body}
    if "links" in body:
        changes["links"] = body["links"]
    try:
        report = reports.triage(svc.uow(), report_id, dept, version, person(), svc.flow.clock(), **changes)
    except reports.NotFound:
        raise _not_found() from None
    except rules.Unconditional:
        raise Problem(428, N_("Precondition Required"),
                      N_("Send If-Match with the ETag of the report you read, so no change is lost.")) from None
    except rules.Stale:
        raise Problem(412, N_("Precondition Failed"),
                      N_("Someone changed this report since you read it. Read it again, then make your change."),
                      ) from None
    except rules.Closed:
        raise Problem(409, N_("Conflict"), N_("This report is closed. A closed report does not change.")) from None
    except reports.BadLink as exc:
        raise Problem(422, N_("Unprocessable Content"), _BAD_LINKS[exc.field],
                      slug="invalid-input", fields=[exc.field]) from None
    except rules.Backwards:
        raise Problem(422, N_("Unprocessable Content"), N_("A report's status moves forward only."),
                      slug="invalid-input", fields=["status"]) from None
    return _tagged(report)
