"""The staff console's correction worklist: a records officer answers patients' correction requests.

The custodian department must answer each request within 60 days (45 CFR 164.526(b)(2)); the
list shows the due date and the days left in words. An officer accepts a request (the record is
amended with the corrected resource, or marked entered in error) or denies it with a reason,
all through /staff/v1/corrections with their own token (services/records/entrypoints/staff.py),
which keeps a Provenance naming them. Each answer is a POST that redirects (303) to the
request's page, so reloading that page never sends the answer twice.

The API's item of one request carries the record as it stands (``resource``): the page shows its
readable parts and the "amend" box starts from its JSON. The form keeps the version it showed, and
the amend is sent with If-Match naming it, so the records service refuses it (412) if the record
changed meanwhile: an officer never overwrites a change they did not see.
"""
from __future__ import annotations

import json

from flask import Response, flash, redirect, request

from gateway.portal.client import ApiError, path_id
from gateway.portal.console import API_DOWN, api, bp, me, needs, page, person_name
from services.common.i18n import N_, _

ROLE = "records-officer"
ACTIONS = ("amend", "entered-in-error")
NOT_FOUND = N_("Your department has no correction request with this id.")
CHANGED = N_("The record changed after you opened this page. The box now shows it as it is now. "
             "Make your correction on it again.")
#: Where a FHIR R4 resource keeps its name, its date and its value, by the element's name.
NAME_ELEMENTS = ("code", "vaccineCode", "medicationCodeableConcept", "type")
DATE_ELEMENTS = ("effectiveDateTime", "onsetDateTime", "performedDateTime", "occurrenceDateTime",
                 "authoredOn", "recordedDate", "issued", "date", "birthDate")


def _not_found() -> Response:
    return page("error.html", 404, title=_("Not found"), message=_(NOT_FOUND))


def days_in_words(days_left: int) -> str:
    """The days left before the due date, or the days late after it, in words."""
    if days_left == 0:
        return _("Due today")
    if days_left > 0:
        return _("1 day left") if days_left == 1 else _("{count} days left", count=days_left)
    late = -days_left
    return _("1 day late") if late == 1 else _("{count} days late", count=late)


def _item(task_id: str) -> dict | None:
    """The department's request TASK_ID as the API gives it; None when it is not theirs."""
    if not path_id(task_id):
        return None
    try:
        return api("GET", f"/staff/v1/corrections/{task_id}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _concept(value) -> str:
    """A CodeableConcept's words: its text, else its first coding's display or code."""
    if not isinstance(value, dict):
        return ""
    codings = [c for c in value.get("coding") or [] if isinstance(c, dict)]
    return str(value.get("text") or next((c.get("display") or c.get("code") for c in codings), "") or "")


def _value(resource: dict) -> str:
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}".strip()
    return str(resource.get("valueString") or _concept(resource.get("valueCodeableConcept")) or "")


def readable(resource: dict | None) -> list[tuple[str, str]]:
    """The parts of a FHIR R4 resource a person reads: its name, status, value, date and notes."""
    if not isinstance(resource, dict):
        return []
    parts = [(_("Kind of record"), str(resource.get("resourceType", "")))]
    name = next((_concept(resource.get(e)) for e in NAME_ELEMENTS if _concept(resource.get(e))), "")
    people = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    if not name and people:  # a Patient: their name
        name = people[0].get("text") or " ".join([*people[0].get("given", []), people[0].get("family", "")])
    status = resource.get("status") or _concept(resource.get("clinicalStatus"))
    values = [_value(resource)] + [f"{_concept(c.get('code'))}: {_value(c)}" for c in resource.get("component") or []
                                   if isinstance(c, dict) and _value(c)]
    date = next((str(resource[e]) for e in DATE_ELEMENTS if isinstance(resource.get(e), str)), "")
    notes = [str(n.get("text")) for n in resource.get("note") or [] if isinstance(n, dict) and n.get("text")]
    for label, value in ((_("Name"), name), (_("Status"), status),
                         (_("Verification"), _concept(resource.get("verificationStatus"))),
                         (_("Value"), "; ".join(v for v in values if v)), (_("Date"), date),
                         (_("Notes"), " ".join(notes)),
                         (_("Version"), str((resource.get("meta") or {}).get("versionId") or ""))):
        if value:
            parts.append((label, str(value)))
    return parts


def _version(item: dict) -> str:
    return str(((item.get("resource") or {}).get("meta") or {}).get("versionId") or "")


def _start(item: dict) -> str:
    """What the amend box starts with: the record as it is now, else its type and id."""
    record = item["record"]
    resource = item.get("resource") or {"resourceType": record["type"], "id": record["id"]}
    return json.dumps(resource, indent=2, ensure_ascii=False)


def _detail(item: dict, status: int = 200, errors: dict | None = None, form: dict | None = None) -> Response:
    form = form or {}
    answerer = (item.get("answer") or {}).get("answered_by") or {}
    return page("console/correction.html", status, title=_("Correction request"), item=item,
                days=days_in_words(item["days_left"]), errors=errors or {},
                action=form.get("action", ""), resource=form.get("resource") or _start(item),
                version=_version(item), parts=readable(item.get("resource")),
                reason=form.get("reason", ""), by_me=answerer.get("staff") == me()["sub"],
                answerer=person_name({"sub": answerer.get("staff")}))


def _back(task_id: str) -> Response:
    return redirect(f"/console/corrections/{task_id}", 303)


def _refused(exc: ApiError, task_id: str, item: dict, fields: tuple[str, ...], form: dict) -> Response:
    """The API said no: a 404 page, the answer already given, or its problem next to the field."""
    if exc.status >= 500 or exc.status in (401, 403):
        raise exc
    if exc.status == 404:
        return _not_found()
    if exc.status == 409:  # answered already, by a colleague or by this form sent twice
        flash(exc.text() or _(API_DOWN), "status")
        return _back(task_id)
    named = [f for f in exc.fields if f in fields] or [fields[-1]]
    return _detail(item, exc.status, {f: exc.text() or _(API_DOWN) for f in named}, form)


@bp.get("/console/corrections")
def corrections():
    """The department's open correction requests, oldest first (the API's order), a page at a time."""
    refused = needs(ROLE)
    if refused:
        return refused
    cursor = request.args.get("cursor")
    listed = api("GET", "/staff/v1/corrections", params={"cursor": cursor} if cursor else None)
    rows = [{**i, "days": days_in_words(i["days_left"])} for i in listed["items"]]
    return page("console/corrections.html", title=_("Correction requests"), rows=rows,
                next=listed.get("next"), more_page=bool(cursor))


@bp.get("/console/corrections/<task_id>")
def correction(task_id: str):
    """One request: the patient's words, the record, and the forms to answer it while it is open."""
    refused = needs(ROLE)
    if refused:
        return refused
    item = _item(task_id)
    return _not_found() if item is None else _detail(item)


@bp.post("/console/corrections/<task_id>/accept")
def accept(task_id: str):
    """Accept: amend the record with the corrected resource, or mark it entered in error."""
    refused = needs(ROLE)
    if refused:
        return refused
    item = _item(task_id)
    if item is None:
        return _not_found()
    action = request.form.get("action", "")
    text = request.form.get("resource", "")
    form = {"action": action, "resource": text}
    body: dict = {"action": action}
    errors = {}
    if action not in ACTIONS:
        errors["action"] = _("Choose how to accept the request.")
    elif action == "amend":
        try:
            body["resource"] = json.loads(text)
        except ValueError as bad:
            errors["resource"] = _("This is not valid JSON. Look near line {line}, column {column}.",
                                   line=bad.lineno, column=bad.colno)
        except RecursionError:  # nested past the parser's depth: no resource is that deep
            errors["resource"] = _("Send one FHIR resource as a JSON object.")
        else:
            if not isinstance(body["resource"], dict):
                errors["resource"] = _("Send one FHIR resource as a JSON object.")
    if errors:
        return _detail(item, 400, errors, form)
    version = request.form.get("version", "")
    if action == "amend" and not version.isdigit():  # no version shown, or the form was changed:
        return _detail(item, 412, {"resource": _(CHANGED)}, {"action": action})  # start from the record now
    # The amend names the version the officer corrected; the records service checks it as it writes.
    headers = {"If-Match": f'W/"{version}"'} if action == "amend" else None
    try:
        api("POST", f"/staff/v1/corrections/{task_id}/accept", json=body, headers=headers)
    except ApiError as exc:
        if exc.status == 412:  # corrected on an older version: start again from the record as it is now
            fresh = _item(task_id)
            return _not_found() if fresh is None else _detail(fresh, 412, {"resource": _(CHANGED)},
                                                              {"action": action})
        return _refused(exc, task_id, item, ("action", "resource") if action == "amend" else ("action",), form)
    flash(_("You accepted the request. The record is changed, and its history names you."), "status")
    return _back(task_id)


@bp.post("/console/corrections/<task_id>/deny")
def deny(task_id: str):
    """Deny, with the reason the patient will read."""
    refused = needs(ROLE)
    if refused:
        return refused
    item = _item(task_id)
    if item is None:
        return _not_found()
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _detail(item, 400, {"reason": _("Write why you deny the request.")}, {"reason": reason})
    try:
        api("POST", f"/staff/v1/corrections/{task_id}/deny", json={"reason": reason})
    except ApiError as exc:
        return _refused(exc, task_id, item, ("reason",), {"reason": reason})
    flash(_("You denied the request. The patient can read your reason."), "status")
    return _back(task_id)
