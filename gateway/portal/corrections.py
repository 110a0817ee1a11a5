"""The portal's correction requests: ask the department that keeps a record to fix it, see
their answer, and, after a no, file a statement of disagreement (45 CFR 164.526).

The pages call GET/POST /patient/v1/amendments and POST /patient/v1/corrections/<id>/disagreement
as the signed-in person. Filing needs patient/Task.c, the API's rule: a patient has it, a caregiver
only with the request-corrections right. Reading the requests and the record item asked about
needs patient/*.rs, so the pages need both (a caregiver: both rights); asking to fix a record
one may not see would not make sense. The API has no read of one request, so a request's page
finds it in the list: one that is not there (another patient's) is a 404 page.
"""
from __future__ import annotations

from flask import flash, request

from gateway.portal.client import ApiError, path_id
from gateway.portal.session import RECORDS_SCOPE, api
from gateway.portal.views import API_DOWN, bp, field_errors, need, page, see_other
from services.common.i18n import _

TASK_SCOPE = "patient/Task.c"
#: A record item's id and a Task's are FHIR ids (client.path_id): the gateway routes
#: GET /patient/v1/records/{id} (one path segment), so the item's id, not its Type/id, goes in it.
MAX_TEXT = 2000


def need_both() -> None:
    """Stop here unless the person may both ask for corrections and read the record."""
    need(TASK_SCOPE)
    need(RECORDS_SCOPE)


def _not_found():
    return page("error.html", 404, title=_("Not found"),
                message=_("We cannot find this request in your record."))


def _text(name: str, errors: dict, missing: str) -> str:
    """The form's text NAME, trimmed; an error next to it when empty or too long."""
    value = request.form.get(name, "").strip()
    if not value:
        errors[name] = missing
    elif len(value) > MAX_TEXT:
        errors[name] = _("Use {count} characters or fewer.", count=MAX_TEXT)
    return value


@bp.get("/portal/corrections")
def corrections():
    """My correction requests, newest first, with the department's answer in words."""
    need_both()
    items = api("GET", "/patient/v1/amendments")["items"]
    return page("portal/corrections.html", title=_("My requests to fix records"), items=items)


def _ask_page(record_id: str, status: int = 200, errors=None):
    if not path_id(record_id):
        return page("error.html", 404, title=_("Not found"),
                    message=_("We cannot find this item in your record."))
    item = api("GET", f"/patient/v1/records/{record_id}")
    return page("portal/correction_ask.html", status, title=_("Ask to fix a record"), item=item,
                record_id=record_id, errors=errors or {}, form=request.form)


@bp.get("/portal/corrections/new")
def ask_correction():
    """The form to ask for a fix of one record item, with the item shown."""
    need_both()
    return _ask_page(request.args.get("record", ""))


@bp.post("/portal/corrections/new")
def send_correction():
    """Send the request to the department that keeps the record."""
    need_both()
    record_id, errors = request.form.get("record", ""), {}
    wrong = _text("what_is_wrong", errors, _("Say what is wrong."))
    fixed = _text("correction", errors, _("Say what it should say."))
    if errors:
        return _ask_page(record_id, 400, errors)
    try:
        sent = api("POST", "/patient/v1/amendments",
                   json={"record_id": record_id, "what_is_wrong": wrong, "correction": fixed})
    except ApiError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return _ask_page(record_id, 400, field_errors(exc, "what_is_wrong", {
            "what_is_wrong": "what_is_wrong", "correction": "correction", "record_id": "what_is_wrong"}))
    flash(_("We sent your request to {name}. They will answer you here.",
            name=sent["source"]["display"]), "status")
    return see_other("portal.correction", task_id=sent["id"])


def _find(task_id: str) -> dict | None:
    if not path_id(task_id):
        return None
    items = api("GET", "/patient/v1/amendments")["items"]
    return next((c for c in items if c["id"] == task_id), None)


def _request_page(found: dict, status: int = 200, errors=None):
    return page("portal/correction.html", status, title=_("Your request to fix a record"), c=found,
                errors=errors or {}, form=request.form)


@bp.get("/portal/corrections/<task_id>")
def correction(task_id: str):
    """One request: what I asked, their answer, and after a no, the form to disagree."""
    need_both()
    found = _find(task_id)
    return _not_found() if found is None else _request_page(found)


@bp.post("/portal/corrections/<task_id>/disagreement")
def disagree(task_id: str):
    """File my statement of disagreement: kept with the record and sent with it."""
    need_both()
    found = _find(task_id)
    if found is None:
        return _not_found()
    errors = {}
    statement = _text("statement", errors, _("Say why you disagree."))
    if errors:
        return _request_page(found, 400, errors)
    try:
        api("POST", f"/patient/v1/corrections/{task_id}/disagreement", json={"statement": statement})
    except ApiError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return _request_page(found, 400, {"statement": exc.text() or _(API_DOWN)})
    flash(_("Your statement is saved. We keep it with your record."), "status")
    return see_other("portal.correction", task_id=task_id)
