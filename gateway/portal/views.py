"""The portal's pages: thin views that call the public API and render a template."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, flash, redirect,
                   request, session, url_for)
from werkzeug.datastructures import MultiDict

from gateway.authz.authorize import render_page
from gateway.portal import prefs as preferences
from gateway.portal import vocabulary as v
from gateway.portal.client import ApiError, Pkce, SignedOut, path_id
from gateway.portal.session import (CONSENT_SCOPE, RECORDS_SCOPE, api, can, csrf_ok, portal,
                                    sign_in, sign_out, user)
from services.common.i18n import N_, _, current_language

bp = Blueprint("portal", __name__)

FORM_EXPIRED = N_("This form is too old. Load the page again and try once more.")
SIGN_IN_AGAIN = N_("You were signed out. Sign in again to go on.")
NO_RIGHT = N_("You may not use this page. Ask the patient to give you this right.")
API_DOWN = N_("We cannot reach your health record right now. Try again in a few minutes.")
NOT_FOUND = N_("We cannot find this in your record. Go back and try again.")


# The sign-in pages and the portal's are rendered, labelled and kept out of caches alike.
page = render_page


def see_other(endpoint: str, **values) -> Response:
    return redirect(url_for(endpoint, **values), 303)


def need(scope: str | None = None) -> None:
    """Stop here unless someone is signed in (with SCOPE, when given)."""
    if user() is None:
        raise SignedOut(401)
    if scope and not can(scope):
        abort(403)


def field_errors(error: ApiError, fallback: str, fields: dict[str, str]) -> dict[str, str]:
    """Put the API's explanation next to each form field it names, else next to FALLBACK.

    FIELDS maps the API's field names to the form's.
    """
    named = [fields[f] for f in error.fields if f in fields] or [fallback]
    return {name: error.text() or _(API_DOWN) for name in named}


# errors ---------------------------------------------------------------------------------------
@bp.errorhandler(SignedOut)
def signed_out(_exc):
    flash(_(SIGN_IN_AGAIN), "status")
    return see_other("portal.home")


@bp.errorhandler(403)
def forbidden(_exc):
    return page("error.html", 403, title=_("Not allowed"), message=_(NO_RIGHT))


@bp.errorhandler(404)
def not_found(_exc):
    return page("error.html", 404, title=_("Not found"), message=_(NOT_FOUND))


@bp.errorhandler(413)
def too_large(_exc):
    # A form over the gateway's size is a person's page too: an error page in their language,
    # not the API's problem+json.
    return page("error.html", 413, title=_("Something went wrong"), message=_("What you sent is too large."))


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    if exc.status == 403:
        return forbidden(exc)
    status = 502 if exc.status >= 500 else exc.status
    return page("error.html", status, title=_("Something went wrong"),
                message=exc.text() or _(API_DOWN))


@bp.before_request
def check_form_token():
    if request.method == "POST" and not csrf_ok(request.form.get("csrf_token")):
        return page("error.html", 400, title=_("Something went wrong"), message=_(FORM_EXPIRED))
    return None


# signed out ---------------------------------------------------------------------------------------
@bp.get("/")
def home():
    """Welcome page: sign in or activate; a signed-in person goes to their records."""
    tok = user()
    if tok is not None:
        return see_other("portal.records" if can(RECORDS_SCOPE) else "portal.sharing")
    return page("portal/home.html", title=_("Your health record"))


@bp.get("/portal/signin")
def signin():
    """Start the OAuth authorization code flow with PKCE S256."""
    pkce = Pkce.new()
    session["pkce"] = {"state": pkce.state, "verifier": pkce.verifier}
    return redirect(portal().authorize_url(pkce), 303)


@bp.get("/portal/callback")
def callback():
    """Finish sign-in: check the state, trade the code for tokens (RFC 6749 section 4.1.2)."""
    started = session.pop("pkce", None)
    if not started or request.args.get("state") != started["state"]:
        flash(_("That sign-in did not work. Please try again."), "status")
        return see_other("portal.home")
    if "code" not in request.args:  # "Do not allow", or an error the server explained
        flash(_("You did not sign in. You can try again when you are ready."), "status")
        return see_other("portal.home")
    sign_in(portal().exchange_code(request.args["code"], Pkce(**started)))
    try:
        me = api("GET", "/patient/v1/me")
        session["tok"] = {**session["tok"], "name": me.get("name")}
    except ApiError:
        pass  # a caregiver without the right to read the record still signs in
    return see_other("portal.home")


USERNAME = re.compile(r"^[A-Za-z0-9._@\-]{3,64}$")  # contracts/schemas/accounts.py
ACTIVATE_FIELDS = {name: name for name in ("code", "birth_date", "username", "password")}


@bp.route("/portal/activate", methods=["GET", "POST"])
def activate():
    """Open an account with the code from the care team, the birth date and a new password."""
    form, errors = request.form, {}
    if request.method == "POST":
        values = {k: form.get(k, "").strip() for k in ("code", "username", "day", "month", "year")}
        if not values["code"]:
            errors["code"] = _("Enter the activation code from your care team.")
        birth_date = _date(values["day"], values["month"], values["year"])
        if birth_date is None:
            errors["birth_date"] = _("Enter your birth date as numbers. For example: 27 3 1990.")
        if not values["username"]:
            errors["username"] = _("Choose a username.")
        elif not USERNAME.match(values["username"]):
            errors["username"] = _("Use 3 to 64 letters or numbers. You may also use . _ - and @.")
        if not form.get("password"):
            errors["password"] = _("Choose a password.")
        if not errors:
            try:
                portal().public("POST", "/accounts/v1/activate", current_language().used,
                                request.remote_addr or "?", json={
                    "code": values["code"], "birth_date": birth_date,
                    "username": values["username"], "password": form["password"]})
            except ApiError as exc:
                errors = field_errors(exc, "code", ACTIVATE_FIELDS)
            else:
                return page("portal/activated.html", title=_("Your account is ready"),
                            username=values["username"])
    return page("portal/activate.html", 400 if errors else 200, title=_("Activate your account"),
                errors=errors, form=form)


def _date(day: str, month: str, year: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat() if len(year) == 4 else None
    except ValueError:
        return None


@bp.route("/portal/signout", methods=["GET", "POST"])
def signout():
    """Sign out: revoke the refresh token (RFC 7009), forget the session."""
    if request.method == "POST":
        sign_out()
        flash(_("You are signed out."), "status")
        return see_other("portal.home")
    return page("portal/signout.html", title=_("Sign out"))


# signed in ---------------------------------------------------------------------------------------
@bp.get("/portal/records")
def records():
    """My records in plain words, newest first, one page at a time."""
    need(RECORDS_SCOPE)
    category = request.args.get("category") or None
    category = category if category in v.RECORD_CATEGORY_NAMES else None
    query = {"limit": 20, **({"category": category} if category else {}),
             **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})}
    body = api("GET", "/patient/v1/records", params=query)
    return page("portal/records.html", title=_("My health records"), items=body["items"],
                next=body.get("next"), category=category, categories=v.RECORD_CATEGORY_NAMES)


def shareable() -> list[tuple[str, str]]:
    """The departments a patient may share with now, as (id, name in the page's language) by
    name: the active entries of the gateway's directory that may hold a consent (clinical and
    research; an oversight team sees reports only)."""
    lang = current_language().used
    directory = current_app.extensions["gateway"].stores.directory
    found = [(d.id, d.name(lang)) for d in directory.departments() if d.active and d.holds_patient_data]
    return sorted(found, key=lambda pair: _sort_key(pair[1]))


def _sort_key(name: str) -> str:
    # "Área" sorts with "Area", not after "Z".
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


@bp.get("/portal/sharing")
def sharing(errors=None, status=200):
    """Who may see my record, a form to share it, and a button to stop each sharing."""
    need(CONSENT_SCOPE)
    body = api("GET", "/patient/v1/consents")
    active = [c for c in body["items"] if c["status"]["code"] == "active"]
    past = [c for c in body["items"] if c["status"]["code"] != "active"]
    return page("portal/sharing.html", status, title=_("Share my record"), active=active,
                past=past, errors=errors or {}, form=request.form, v=v, departments=shareable())


@bp.post("/portal/sharing")
def grant():
    """Share chosen parts of my record with a department, for one purpose, for a time."""
    need(CONSENT_SCOPE)
    form, errors = request.form, {}
    department = form.get("department")
    if department not in {code for code, _name in shareable()}:
        errors["department"] = _("Choose a department.")
    classes = [t for g in form.getlist("groups") if g in v.CLASS_GROUPS for t in v.CLASS_GROUPS[g][1]]
    classes += [label for label in form.getlist("sensitive") if label in v.SENSITIVE_NAMES]
    if not any(g in v.CLASS_GROUPS for g in form.getlist("groups")):
        errors["groups"] = _("Choose at least one kind of record to share.")
    purpose = form.get("purpose")
    if purpose not in v.PURPOSE_NAMES:
        errors["purpose"] = _("Choose why they may use it.")
    period = form.get("period")
    if period not in v.PERIODS:
        errors["period"] = _("Choose how long they may see it.")
    if errors:
        return sharing(errors, 400)
    body = {"grantee": department, "purposes": [purpose], "classes": classes}
    days = v.PERIODS[period][1]
    if days:
        body["period"] = {"end": (dt.date.today() + dt.timedelta(days=days)).isoformat()}
    try:
        consent = api("POST", "/patient/v1/consents", json=body)
    except ApiError as exc:
        if exc.status == 403:
            raise
        return sharing(field_errors(exc, "department", {
            "grantee": "department", "classes": "groups", "purposes": "purpose", "period": "period"}), 400)
    flash(consent.get("summary") or _("Done."), "status")
    return see_other("portal.sharing")


@bp.post("/portal/sharing/<consent_id>/stop")
def revoke(consent_id: str):
    """Stop one sharing at once."""
    need(CONSENT_SCOPE)
    if not path_id(consent_id):
        abort(404)
    consent = api("DELETE", f"/patient/v1/consents/{consent_id}")
    name = consent.get("grantee", {}).get("display") or ""
    flash(_("You stopped sharing with {name}. It stopped at once.", name=name), "status")
    return see_other("portal.sharing")


@bp.get("/portal/access")
def access():
    """Who saw my data: every release of my records, in plain words."""
    need(RECORDS_SCOPE)
    body = api("GET", "/patient/v1/disclosures", params={"limit": 50})
    return page("portal/access.html", title=_("Who saw my data"), items=body["items"])


@bp.get("/portal/notifications")
def notifications():
    """My notifications, newest first."""
    need(RECORDS_SCOPE)
    body = api("GET", "/patient/v1/notifications", params={"limit": 50})
    return page("portal/notifications.html", title=_("Notifications"), items=body["items"])


# settings --------------------------------------------------------------------------------------
@bp.route("/portal/settings", methods=["GET", "POST"])
def settings():
    """Language, text size and contrast for everyone; caregivers for a signed-in patient."""
    if request.method == "POST":
        form = request.form
        lang = form.get("lang") if form.get("lang") in ("en", "es") else None
        chosen = preferences.Prefs(lang, form.get("size") if form.get("size") in preferences.SIZES
                                   else "standard", form.get("contrast") == "high")
        flash(_("Your settings are saved."), "status")
        return preferences.save(see_other("portal.settings"), chosen, _secure())
    return _settings_page()


def _settings_page(status: int = 200, errors=None, invited=None) -> Response:
    caregivers = None
    if user() is not None and not user()["act"] and can(CONSENT_SCOPE):
        caregivers = api("GET", "/patient/v1/proxies")["items"]
    return page("portal/settings.html", status, title=_("Settings"), caregivers=caregivers,
                errors=errors or {}, form=request.form if status != 201 else MultiDict(),
                invited=invited,
                v=v)


@bp.post("/portal/settings/caregivers")
def invite():
    """Invite a caregiver with limited rights; show the one-time code."""
    need(CONSENT_SCOPE)
    form, errors = request.form, {}
    rights = [r for r in form.getlist("rights") if r in v.RIGHT_NAMES]
    if not rights:
        errors["rights"] = _("Choose at least one thing they may do.")
    relationship = form.get("relationship")
    if relationship not in v.RELATIONSHIP_NAMES:
        errors["relationship"] = _("Choose who this person is to you.")
    if errors:
        return _settings_page(400, errors)
    body = {"rights": rights, "relationship": relationship}
    if form.get("name", "").strip():
        body["name"] = form["name"].strip()[:80]
    try:
        invited = api("POST", "/patient/v1/proxies", json=body)
    except ApiError as exc:
        if exc.status == 403:
            raise
        return _settings_page(400, field_errors(exc, "relationship", {
            "relationship": "relationship", "rights": "rights", "name": "name"}))
    return _settings_page(201, invited=invited)


@bp.post("/portal/settings/caregivers/<grant_id>/stop")
def stop_caregiver(grant_id: str):
    need(CONSENT_SCOPE)
    if not path_id(grant_id):
        abort(404)
    api("DELETE", f"/patient/v1/proxies/{grant_id}")
    flash(_("This caregiver can no longer see or change anything for you."), "status")
    return see_other("portal.settings")


@bp.get("/portal/language")
def language():
    """Switch the language with a plain link (no script), then go back where the visitor was."""
    lang = request.args.get("lang")
    resp = redirect(local_path(request.args.get("next"), url_for("portal.home")), 303)
    if lang in ("en", "es"):
        old = preferences.read(request)
        preferences.save(resp, preferences.Prefs(lang, old.size, old.high_contrast), _secure())
    return resp


def local_path(target: str | None, fallback: str) -> str:
    """TARGET when it is a path of this site, else FALLBACK ("//host" and "/\\host" would leave it)."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") \
            or target[1:2] in ("/", "\\"):
        return fallback
    return target


def _secure() -> bool:
    return current_app.config.get("SESSION_COOKIE_SECURE", False)
