"""The staff console's reports: any member of staff reports a problem or a near miss, with their
name or without it, and follows it; the department's quality staff triage the reports in a queue
by kind and age (assign, status with a note, links, close), and see the words readers found hard.

All through /staff/v1/reports with the person's own token (services/exchange/entrypoints/reports.py).
A report is made once however often its form is sent (gateway/portal/once.py). A triage form
keeps the version of the report it showed and sends it as If-Match, so a change a colleague made
meanwhile is never overwritten: the page comes back with the report as it is now.
"""
from __future__ import annotations

from flask import Response, flash, redirect, request

from contracts.vocabulary import REPORT_KIND_NAMES, REPORT_STATUS_NAMES, REPORT_STATUSES
from gateway.portal.client import ApiError, SignedOut, path_id
from gateway.portal.console import API_DOWN, api, bp, first_send, me, needs, page, person_name, sent, unsent
from services.common.i18n import N_, _

QUALITY = "quality"
#: What staff report from the console (a record item or a disclosure is reported by the patient).
STAFF_KINDS = ("safety", "system-problem", "hard-to-understand")
NOT_FOUND = N_("Your department has no report with this id.")
CHANGED = N_("Someone changed this report after you opened it. This is the report now. Make your change again.")
LINKS = ("correction_request", "break_glass_review", "disclosure")


def _signed_in() -> dict:
    tok = me()
    if tok is None:
        raise SignedOut(401)
    return tok


def _report_page(status: int = 200, errors=None, form=None):
    cursor = request.args.get("cursor")
    mine = api("GET", "/staff/v1/reports/mine", params={"cursor": cursor} if cursor else None)
    followed = None
    reference = request.args.get("reference", "").strip()
    if reference:
        try:
            followed = api("GET", f"/staff/v1/reports/follow/{reference[:40]}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            errors = {**(errors or {}), "reference": _("We found no report without a name with this reference.")}
    return page("console/report.html", status, title=_("Report a problem"), kinds=STAFF_KINDS,
                kind_names=REPORT_KIND_NAMES, errors=errors or {}, form=form or {}, mine=mine["items"],
                next=mine.get("next"), followed=followed, reference=reference)


@bp.get("/console/report")
def report_form():
    """The form any member of staff reports with, their own named reports, and a follow by reference."""
    _signed_in()
    return _report_page()


@bp.post("/console/report")
def send_report():
    _signed_in()
    form = {"kind": request.form.get("kind", ""), "text": request.form.get("text", "").strip(),
            "words": request.form.get("words", "").strip(), "anonymous": request.form.get("anonymous") == "yes"}
    errors = {}
    if form["kind"] not in STAFF_KINDS:
        errors["kind"] = _("Choose what kind of problem it is.")
    if not form["text"]:
        errors["text"] = _("Say what happened.")
    if form["kind"] == "hard-to-understand" and not form["words"]:
        errors["words"] = _("Copy the words that were hard to understand.")
    if errors:
        return _report_page(400, errors, form)
    token, again = first_send("/console/report", anonymous=form["anonymous"])
    if again:
        return again
    about = {"page": "/console", "words": form["words"]} if form["kind"] == "hard-to-understand" else {}
    try:
        made = api("POST", "/staff/v1/reports", json={"kind": form["kind"], "text": form["text"], "about": about,
                                                     "anonymous": form["anonymous"]})
    except (ApiError, SignedOut) as exc:
        unsent(token, exc)
        if isinstance(exc, SignedOut) or exc.status >= 500 or exc.status in (401, 403):
            raise
        return _report_page(exc.status, {"text": exc.text() or _(API_DOWN)}, form)
    ack = made["acknowledgement"]
    flash(" ".join([ack["title"], ack["message"], ack["next_step"]]), "status")
    return sent(token, "/console/report")


# -- the quality queue -----------------------------------------------------------------------
def _choice(name: str, allowed) -> str:
    value = request.args.get(name, "")
    return value if value in allowed else ""


@bp.get("/console/quality")
def quality_queue():
    """The department's reports: open first, then the oldest; by kind and status."""
    refused = needs(QUALITY)
    if refused:
        return refused
    kind, status = _choice("kind", REPORT_KIND_NAMES), _choice("status", REPORT_STATUSES)
    params = {k: v for k, v in (("kind", kind), ("status", status), ("cursor", request.args.get("cursor"))) if v}
    listed = api("GET", "/staff/v1/reports", params=params or None)
    return page("console/quality.html", title=_("Reports to triage"), rows=listed["items"],
                next=listed.get("next"), kind=kind, chosen_status=status, kind_names=REPORT_KIND_NAMES,
                status_names=REPORT_STATUS_NAMES, more_page=bool(request.args.get("cursor")))


@bp.get("/console/quality/hard-words")
def hard_words():
    """The words readers found hard in the department's reports, counted by language and page, the
    most named first: what the quality team passes on to the wording review."""
    refused = needs(QUALITY)
    if refused:
        return refused
    listed = api("GET", "/staff/v1/reports/hard-words")
    return page("console/hard_words.html", title=_("Words readers found hard"), rows=listed["items"])


def _item(report_id: str) -> dict | None:
    if not path_id(report_id):
        return None
    try:
        return api("GET", f"/staff/v1/reports/{report_id}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _detail(item: dict, status: int = 200, errors=None, form=None) -> Response:
    return page("console/quality_report.html", status, title=_("Report {reference}", reference=item["reference"]),
                r=item, errors=errors or {}, form=form or {}, statuses=REPORT_STATUSES,
                status_names=REPORT_STATUS_NAMES, assignee=person_name(item.get("assignee")),
                reporter=person_name((item["reporter"].get("staff") or {})), links=LINKS)


def _not_found() -> Response:
    return page("error.html", 404, title=_("Not found"), message=_(NOT_FOUND))


@bp.get("/console/quality/<report_id>")
def quality_report(report_id: str):
    refused = needs(QUALITY)
    if refused:
        return refused
    item = _item(report_id)
    return _not_found() if item is None else _detail(item)


def _change(item: dict) -> dict:
    """The triage body from the form: only what differs from the report as it was shown."""
    body = {}
    status, note = request.form.get("status", ""), request.form.get("note", "").strip()
    if status in REPORT_STATUSES and status != item["status"]["code"]:
        body["status"] = status
    if note and note != (item.get("note") or ""):
        body["note"] = note
    if request.form.get("assign") == "me":
        body["assignee"] = {"sub": me()["sub"], "fhirUser": me().get("fhirUser")}
    links = {k: request.form.get(k, "").strip() for k in LINKS if request.form.get(k, "").strip()}
    if "correction_request" in links and not links["correction_request"].startswith("Task/"):
        links["correction_request"] = f"Task/{links['correction_request']}"
    if links:
        body["links"] = links
    return body


@bp.post("/console/quality/<report_id>")
def triage(report_id: str):
    """Send the change with the version it was made on; 303 back to the report."""
    refused = needs(QUALITY)
    if refused:
        return refused
    item = _item(report_id)
    if item is None:
        return _not_found()
    form = dict(request.form)
    body = _change(item)
    if not body:
        return _detail(item, 400, {"status": _("Change the status, write a note, assign it or add a link.")}, form)
    version = request.form.get("version", "")
    if not version.isdigit():
        return _detail(item, 412, {"status": _(CHANGED)})
    try:
        api("POST", f"/staff/v1/reports/{report_id}", json=body, headers={"If-Match": f'W/"{version}"'})
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        if exc.status == 404:
            return _not_found()
        fresh = _item(report_id) or item
        if exc.status == 412:
            return _detail(fresh, 412, {"status": _(CHANGED)})
        named = [f.split(".")[-1] for f in exc.fields] or ["status"]
        return _detail(fresh, exc.status, {f: exc.text() or _(API_DOWN) for f in named}, form)
    flash(_("Saved. The person who reported it sees the new status and your note."), "status")
    return redirect(f"/console/quality/{report_id}", 303)
