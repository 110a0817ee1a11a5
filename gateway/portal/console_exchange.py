"""The console's exchange work: a clinician's requests for records (and asking a patient to share
when their choices said no), and a privacy officer's review of emergency (break-the-glass) claims
and of every release of the department's patients' records (the accounting of disclosures).

Every page is a client of the staff API (/staff/v1/inbox, /staff/v1/inbox/notices, /staff/v1/requests,
/staff/v1/sharing-requests, /staff/v1/break-glass-reviews, /staff/v1/disclosures) with the
signed-in person's token; the API decides what the department may see, so another department's
item is its 404. The words
of outcomes and next steps are the API's; only the form's own words and the status names are here.
"""
from __future__ import annotations

from datetime import datetime, timezone

from babel.dates import format_date, format_time
from flask import Response, flash, redirect, request

from contracts.schemas.consent import SHARING_MAX_DAYS
from contracts.vocabulary import CLASS_NAMES, EMERGENCY_PURPOSE, EMERGENCY_SCOPE, PURPOSE_NAMES, RESOURCE_TYPES
from gateway.portal.client import ApiError, SignedOut, path_id
from gateway.portal.console import API_DOWN, api, bp, first_send, me, needs, page, person_name, sent, unsent
from services.common.i18n import N_, _, current_language

CLINICIAN, PRIVACY_OFFICER = "clinician", "privacy-officer"
ASK_PATIENT = "ask-patient-to-share"  # the next step's code (services/exchange/domain/staff.py)

#: Purposes a clinician may name, by the contract's names. Payment and "your own request" are left
#: out: their names speak to the patient ("your care") and are not a clinician's reason to ask.
#: Emergency treatment is offered only to a department that may claim emergencies.
PURPOSE_CHOICES = ("TREAT", "HOPERAT", "HRESCH")
#: The exchange request's status codes (contracts STATUSES) in words.
STATUS_NAMES = {"pending": N_("Being handled"), "fulfilled": N_("Done"), "denied": N_("Refused"),
                "failed": N_("Did not work")}
REVIEW_STATUS_NAMES = {"open": N_("Waiting for review"), "reviewed": N_("Reviewed")}
#: How long the patient's consent would last, if they say yes: choice -> days.
PERIODS = {"30": N_("30 days"), "90": N_("90 days"), str(SHARING_MAX_DAYS): N_("One year")}
#: The API's field names -> the form's.
REQUEST_FIELDS = {"patient": "patient", "purpose": "purpose", "resource_types": "kinds", "reason": "reason"}
SHARING_FIELDS = {"reason": "share_reason", "period": "days", "period.days": "days"}
REVIEW_FIELDS = {"outcome": "outcome", "note": "note"}


# what the pages share ---------------------------------------------------------------------------------
def not_found(message: str) -> Response:
    return page("error.html", 404, title=_("Not found"), message=_(message))


def found_or_none(collection: str, item_id: str) -> dict | None:
    """GET the item ITEM_ID (from the page's URL) of COLLECTION; None when it is no id, or when
    the API says there is no such item for this department."""
    if not path_id(item_id):
        return None
    try:
        return api("GET", f"{collection}/{item_id}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def errors_from(exc: ApiError, fields: dict[str, str], fallback: str) -> dict[str, str]:
    """The API's explanation next to each form field it names, else next to FALLBACK; a server
    error or a refusal of the person is not the form's to show."""
    if exc.status >= 500 or exc.status in (401, 403):
        raise exc
    named = [fields[f] for f in exc.fields if f in fields] or [fallback]
    return {name: exc.text() or _(API_DOWN) for name in named}


def when(iso: str | None) -> str:
    """A moment in words in the page's language: its day and its time, said to be UTC (the
    directory keeps no time zone for a department, and a time without its zone misleads)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    lang = current_language().used
    return _("{day} at {time} UTC", day=format_date(moment, "long", locale=lang),
             time=format_time(moment, "short", tzinfo=timezone.utc, locale=lang))


def see_other(path: str) -> Response:
    return redirect(path, 303)


# a clinician's requests ----------------------------------------------------------------------------------
def purpose_choices() -> list[tuple[str, str]]:
    codes = list(PURPOSE_CHOICES)
    if EMERGENCY_SCOPE in (me() or {}).get("scope", "").split():
        codes.append(EMERGENCY_PURPOSE)
    return [(code, _(PURPOSE_NAMES[code])) for code in codes]


def kind_choices() -> list[tuple[str, str]]:
    """Every kind of record the API takes, named as the contract names it, in the page's order."""
    named = [(code, _(CLASS_NAMES[code])) for code in RESOURCE_TYPES]
    return sorted(((code, words[:1].upper() + words[1:]) for code, words in named), key=lambda c: c[1].lower())


def _requests_page(status: int = 200, errors: dict | None = None, form: dict | None = None) -> Response:
    cursor = request.args.get("cursor")
    listed = api("GET", "/staff/v1/inbox", params={"cursor": cursor} if cursor else None)
    return page("console/requests.html", status, title=_("Requests for records"), items=listed["items"],
                next=listed.get("next"), more_page=bool(cursor), status_names=STATUS_NAMES, when=when,
                purposes=purpose_choices(), kinds=kind_choices(), errors=errors or {}, form=form or {})


@bp.get("/console/requests")
def requests_list():
    """The department's requests for records, newest first, and the form to ask for more."""
    return needs(CLINICIAN) or _requests_page()


@bp.post("/console/requests")
def requests_create():
    """Ask for a patient's records for the department; then the request's own page."""
    refused = needs(CLINICIAN)
    if refused:
        return refused
    form = {"patient": request.form.get("patient", "").strip(), "purpose": request.form.get("purpose", ""),
            "kinds": [k for k in request.form.getlist("kinds") if k in RESOURCE_TYPES],
            "reason": request.form.get("reason", "").strip()}
    errors = {}
    if not form["patient"]:
        errors["patient"] = _("Enter the patient's id.")
    if form["purpose"] not in dict(purpose_choices()):
        errors["purpose"] = _("Choose why you need the records.")
    if not form["kinds"]:
        errors["kinds"] = _("Choose one or more kinds of record.")
    if not errors:
        token, again = first_send("/console/requests")
        if again:  # the same form sent twice (a double click, a reload): one request
            return again
        try:
            made = api("POST", "/staff/v1/requests", json={
                "patient": form["patient"], "purpose": form["purpose"], "resource_types": form["kinds"],
                "reason": form["reason"] or None})
            return sent(token, f"/console/requests/{made['id']}")
        except (ApiError, SignedOut) as exc:
            unsent(token, exc)
            if isinstance(exc, SignedOut):
                raise
            errors = errors_from(exc, REQUEST_FIELDS, "patient")
    return _requests_page(400 if errors else 200, errors, form)


def _request_page(item: dict, status: int = 200, errors: dict | None = None,
                  form: dict | None = None) -> Response:
    purpose = PURPOSE_NAMES.get(item["purpose"])
    return page("console/request.html", status, title=_("Request for records"), item=item, when=when,
                purpose=_(purpose) if purpose else item["purpose"],
                status_names=STATUS_NAMES, periods=PERIODS, ask=item["next_step"]["code"] == ASK_PATIENT,
                asked_by=person_name(item.get("requested_by")), errors=errors or {}, form=form or {})


NO_REQUEST = N_("Your department has no request for records with this id.")


@bp.get("/console/requests/<request_id>")
def request_detail(request_id: str):
    """One request: what was asked, the outcome and the next step in words."""
    refused = needs(CLINICIAN)
    if refused:
        return refused
    item = found_or_none("/staff/v1/requests", request_id)
    return not_found(NO_REQUEST) if item is None else _request_page(item)


@bp.post("/console/requests/<request_id>/ask")
def request_ask(request_id: str):
    """Ask the patient to share what the request asked for; then the sharing request's page.

    What is asked (patient, kinds, purpose) is the API's next step, read again now: the form
    sends only the clinician's own words and the length of time."""
    refused = needs(CLINICIAN)
    if refused:
        return refused
    item = found_or_none("/staff/v1/requests", request_id)
    if item is None:
        return not_found(NO_REQUEST)
    step = item["next_step"]
    if step["code"] != ASK_PATIENT:  # the page hides the form now: say so above its next step
        flash(_("This request no longer needs the patient to share. Read its next step."), "status")
        return see_other(f"/console/requests/{request_id}")
    form = {"share_reason": request.form.get("share_reason", "").strip(), "days": request.form.get("days", "")}
    errors = {}
    if not form["share_reason"]:
        errors["share_reason"] = _("Write why you need the records. The patient reads this.")
    if form["days"] not in PERIODS:
        errors["days"] = _("Choose how long the patient would share.")
    if not errors:
        try:
            made = api("POST", "/staff/v1/sharing-requests", json={
                "patient": step["patient"], "classes": step["classes"], "purposes": [step["purpose"]],
                "period": {"days": int(form["days"])}, "reason": form["share_reason"],
                "exchange_request": step["exchange_request"]})
            flash(_("The patient is asked to share. They get a message."), "status")
            return see_other(f"/console/sharing-requests/{made['id']}")
        except ApiError as exc:
            errors = errors_from(exc, SHARING_FIELDS, "share_reason")
    return _request_page(item, 400, errors, form)


@bp.get("/console/sharing-requests/<sharing_id>")
def sharing_detail(sharing_id: str):
    """A request to the patient to share: what it asks, its status and what to do next."""
    refused = needs(CLINICIAN)
    if refused:
        return refused
    item = found_or_none("/staff/v1/sharing-requests", sharing_id)
    if item is None:
        return not_found(N_("Your department has no sharing request with this id."))
    return page("console/sharing_request.html", title=_("Request to the patient to share"), item=item,
                asked_by=person_name(item.get("requested_by")))


# a privacy officer's reviews -----------------------------------------------------------------------------
def claimant(item: dict) -> str:
    """Who claimed: the person's name and department, or the department's system alone."""
    dept = item["department"]["display"]
    name = person_name(item.get("claimed_by"))
    return _("{name}, {department}", name=name, department=dept) if name else \
        _("{department} (its own system)", department=dept)


@bp.get("/console/reviews")
def reviews_list():
    """The emergency claims on the department's patients, in the API's order (sensitive first)."""
    refused = needs(PRIVACY_OFFICER)
    if refused:
        return refused
    # The claims waiting come first: the reviewed ones keep their place in the API's order, so a
    # queue of both would bury the work under what is done. The reviewed ones are one link away.
    status = "reviewed" if request.args.get("status") == "reviewed" else "open"
    params = {"status": status, **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})}
    listed = api("GET", "/staff/v1/break-glass-reviews", params=params)
    return page("console/reviews.html", title=_("Emergency access reviews"), items=listed["items"],
                next=listed.get("next"), more_page="cursor" in params, showing=status, claimant=claimant,
                when=when, status_names=REVIEW_STATUS_NAMES)


NO_CLAIM = N_("Your department has no emergency claim with this id.")


def _review_page(item: dict, status: int = 200, errors: dict | None = None,
                 form: dict | None = None) -> Response:
    review = item.get("review")
    return page("console/review.html", status, title=_("Emergency access review"), item=item,
                claimant=claimant(item), when=when, status_names=REVIEW_STATUS_NAMES,
                reviewer=person_name(review["reviewed_by"]) if review else "",
                errors=errors or {}, form=form or {})


@bp.get("/console/reviews/<claim_id>")
def review_detail(claim_id: str):
    """One claim: who, when, why, what was released and kept back, and the review (or its form)."""
    refused = needs(PRIVACY_OFFICER)
    if refused:
        return refused
    item = found_or_none("/staff/v1/break-glass-reviews", claim_id)
    return not_found(NO_CLAIM) if item is None else _review_page(item)


@bp.post("/console/reviews/<claim_id>")
def review_record(claim_id: str):
    """Record the review once; then the claim's page, which shows it."""
    refused = needs(PRIVACY_OFFICER)
    if refused:
        return refused
    if not path_id(claim_id):
        return not_found(NO_CLAIM)
    form = {"outcome": request.form.get("outcome", ""), "note": request.form.get("note", "").strip()}
    errors = {}
    if form["outcome"] not in ("justified", "not-justified"):
        errors["outcome"] = _("Choose if the emergency access was needed.")
    if not errors:
        try:
            api("POST", f"/staff/v1/break-glass-reviews/{claim_id}",
                json={"outcome": form["outcome"], "note": form["note"] or None})
            flash(_("Your review is recorded. The patient is told."), "status")
            return see_other(f"/console/reviews/{claim_id}")
        except ApiError as exc:
            if exc.status == 404:
                return not_found(NO_CLAIM)
            if exc.status == 409:  # reviewed already, by a colleague or by this form sent twice
                flash(exc.text() or _(API_DOWN), "status")
                return see_other(f"/console/reviews/{claim_id}")
            errors = errors_from(exc, REVIEW_FIELDS, "outcome")
    item = found_or_none("/staff/v1/break-glass-reviews", claim_id)
    return not_found(NO_CLAIM) if item is None else _review_page(item, 400, errors, form)


# notices: consents the department received records under that ended (revocation receipts) -------------
@bp.get("/console/notices")
def notices():
    """The department's notices, newest first: which consent ended, and what it had received under it."""
    refused = needs(CLINICIAN, PRIVACY_OFFICER)
    if refused:
        return refused
    cursor = request.args.get("cursor")
    listed = api("GET", "/staff/v1/inbox/notices", params={"cursor": cursor} if cursor else None)
    return page("console/notices.html", title=_("Consents that ended"), items=listed["items"],
                next=listed.get("next"), more_page=bool(cursor), when=when)


# a privacy officer's accounting of disclosures -------------------------------------------------------------
def kept_back(count: int) -> str:
    return _("1 private record") if count == 1 else _("{count} private records", count=count)


def askers(items: list[dict]) -> dict[str, str]:
    """Who asked for each release, by sub: the person's name, else their Practitioner reference;
    one look-up per person on the page, not one per release."""
    people = {str(i["requested_by"]["sub"]): i["requested_by"] for i in items if i.get("requested_by")}
    return {sub: person_name(who) or str(who.get("fhirUser") or sub) for sub, who in people.items()}


@bp.get("/console/disclosures")
def disclosures():
    """Every release of the department's patients' records, newest first; one patient's with ?patient=."""
    refused = needs(PRIVACY_OFFICER)
    if refused:
        return refused
    patient = request.args.get("patient", "").strip()
    errors = {}
    if patient and not path_id(patient):
        errors["patient"] = _("Enter a patient id: letters, numbers, - and . only.")
    params = {**({"patient": patient} if patient and not errors else {}),
              **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})}
    listed = {"items": [], "next": None} if errors else api("GET", "/staff/v1/disclosures", params=params)
    return page("console/disclosures.html", 400 if errors else 200, title=_("Records sent"),
                items=listed["items"], next=listed.get("next"), more_page="cursor" in params,
                patient=patient, errors=errors, when=when, askers=askers(listed["items"]), kept_back=kept_back)
