"""The portal's reports: tell us something is wrong (a record item, a disclosure, words that were
hard to read, the site itself) and follow what we do about it.

The pages call POST/GET /patient/v1/reports as the signed-in person (a caregiver reports for the
patient they act for). A "wrong information" report also offers a correction request for the
same item (POST /patient/v1/amendments, needing patient/Task.c as the correction pages do); the
report is filed with the request's id, so the department's answer closes it.
"""
from __future__ import annotations

from flask import flash, request

from contracts.vocabulary import REPORT_KIND_NAMES, REPORT_TEXT_MAX, REPORT_WORDS_MAX, RESOURCE_TYPES
from gateway.portal.client import ApiError, path_id
from gateway.portal.session import RECORDS_SCOPE, api, can
from gateway.portal.views import bp, field_errors, need, page, see_other
from services.common.i18n import _

REPORT_SCOPE = "patient/Report.c"
TASK_SCOPE = "patient/Task.c"
MAX_TEXT = REPORT_TEXT_MAX
#: What a patient may report from the general form (a record item and a disclosure are reported
#: from their own pages, which say which one).
GENERAL_KINDS = ("hard-to-understand", "system-problem")


def _about() -> tuple[str, dict] | None:
    """The kind and what it points at, from the form or the query: ?record=Type/id, ?disclosure=n,
    else the general form's choice (None when it names nothing we know: a record item's type
    must be one a patient's record holds, or the form could never be sent)."""
    source = request.form if request.method == "POST" else request.args
    record, disclosure = source.get("record", ""), source.get("disclosure", "")
    if record:
        kind_type, _sep, rid = record.partition("/")
        known = kind_type in RESOURCE_TYPES and path_id(rid)
        return ("wrong-information", {"resource_type": kind_type, "id": rid}) if known else None
    if disclosure:
        return ("wrong-access", {"disclosure": disclosure}) if disclosure.isdigit() and len(disclosure) <= 12 else None
    kind = source.get("kind") or "system-problem"
    page_path = source.get("page", "")[:200] or "/portal"
    return (kind, {"page": page_path}) if kind in GENERAL_KINDS else None


def _form(kind: str, about: dict, status: int = 200, errors=None):
    item = None
    if kind == "wrong-information":
        item = api("GET", f"/patient/v1/records/{about['id']}")
    return page("portal/report_new.html", status, title=_("Report a problem"), kind=kind, about=about, item=item,
                errors=errors or {}, form=request.form, general=GENERAL_KINDS, report_kinds=REPORT_KIND_NAMES,
                can_fix=can(TASK_SCOPE) and kind == "wrong-information")


def _not_found():
    return page("error.html", 404, title=_("Not found"), message=_("We cannot find this item in your record."))


@bp.get("/portal/reports/new")
def new_report():
    """The form to report a problem, about the item the link came from."""
    need(REPORT_SCOPE)
    found = _about()
    return _not_found() if found is None else _form(*found)


def _text(name: str, errors: dict, missing: str | None, most: int = MAX_TEXT) -> str:
    value = request.form.get(name, "").strip()
    if not value and missing:
        errors[name] = missing
    elif len(value) > most:
        errors[name] = _("Use {count} characters or fewer.", count=most)
    return value


def _correction(about: dict, wrong: str, fixed: str) -> str:
    """File the correction request for the item; return its Task reference."""
    sent = api("POST", "/patient/v1/amendments", json={"record_id": about["id"], "what_is_wrong": wrong,
                                                        "correction": fixed})
    return f"Task/{sent['id']}"


@bp.post("/portal/reports/new")
def send_report():
    """Send the report (and the correction request, when asked for); then show its reference."""
    need(REPORT_SCOPE)
    found = _about()
    if found is None:
        return _not_found()
    kind, about = found
    errors = {}
    text = _text("text", errors, _("Say what is wrong."))
    if kind == "hard-to-understand":
        # the exchange takes fewer words than text: said here, next to the field, not as its refusal
        about["words"] = _text("words", errors, _("Copy the words that were hard to understand."), REPORT_WORDS_MAX)
    fix = kind == "wrong-information" and request.form.get("fix") == "yes" and can(TASK_SCOPE)
    fixed = _text("correction", errors, _("Say what it should say.") if fix else None)
    if errors:
        return _form(kind, about, 400, errors)
    body = {"kind": kind, "text": text, "about": about}
    try:
        if fix:
            body["correction_request"] = _correction(about, text, fixed)
        sent = api("POST", "/patient/v1/reports", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return _form(kind, about, 400, field_errors(exc, "text", {"text": "text", "what_is_wrong": "text",
                                                                  "correction": "correction"}))
    ack = sent["acknowledgement"]
    flash(" ".join([ack["title"], ack["message"], ack["next_step"]]), "status")
    return see_other("portal.report", report_id=sent["id"])


@bp.get("/portal/reports")
def my_reports():
    """My reports, newest first, each with its status in words."""
    need(REPORT_SCOPE)
    need(RECORDS_SCOPE)
    listed = api("GET", "/patient/v1/reports", params={"cursor": request.args.get("cursor")}
                 if request.args.get("cursor") else None)
    return page("portal/reports.html", title=_("My reports"), items=listed["items"], next=listed.get("next"))


@bp.get("/portal/reports/<report_id>")
def report(report_id: str):
    need(REPORT_SCOPE)
    need(RECORDS_SCOPE)
    if not path_id(report_id):
        return _not_found()
    try:
        found = api("GET", f"/patient/v1/reports/{report_id}")
    except ApiError as exc:
        if exc.status == 404:
            return page("error.html", 404, title=_("Not found"), message=_("We cannot find this report."))
        raise
    return page("portal/report.html", title=_("Your report"), r=found)


