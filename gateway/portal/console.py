"""The staff console: server-rendered pages for department staff, no script needed.

Like the portal, it is an OAuth public client of the gateway's own public URL (``phr-console``,
authorization code + PKCE S256; gateway/portal/client.py) and keeps its tokens in the signed
session cookie, apart from a patient's (``session["staff"]``). Signing in is the authorization
server's: a password, then a second factor (gateway/authz/staff_login.py).

What it shows today: who is signed in (their name, their department's name from the directory
in the page's language, their roles in words) and, to a department's admin, its staff and a
form to invite a person, through the staff admin API (gateway/admin/staff_api.py) with the
person's own token. ``/console/join`` makes an account from an invite code. The gateway keeps
the staff accounts and the directory, so the person's own name and the department's name are
read from its stores; everything an admin does goes through the API.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, flash, redirect, request, session, url_for

from contracts.vocabulary import ROLE_NAMES, STAFF_ROLES
from gateway.accounts.staff import StaffError
from gateway.authz.pages import render_page
from gateway.portal.client import ApiError, Pkce, Portal, SignedOut, claims_of
from gateway.portal.once import new_token
from gateway.portal.pulse import QUESTIONS as PULSE_QUESTIONS, this_week
from gateway.portal.session import call_as, csrf_ok
from gateway.proxy.ratelimit import LimitsUnavailable
from services.common.i18n import N_, _, current_language

bp = Blueprint("console", __name__)

ADMIN_SCOPE = "user/Staff.cruds"
FORM_EXPIRED = N_("This form is too old. Load the page again and try once more.")
SIGN_IN_AGAIN = N_("You were signed out. Sign in again to go on.")
API_DOWN = N_("We cannot reach the service right now. Try again in a few minutes.")
NOT_FOUND = N_("There is no such page in the console. Go back and try again.")
TOO_MANY = N_("Too many tries. Wait {seconds} seconds, then try again.")
CANNOT_COUNT = N_("We cannot check invite codes right now. Wait {seconds} seconds, then try again.")
SENT_ALREADY = N_("You sent this form already. This is what it made.")
STILL_SENDING = N_("You sent this form already. It may still be working: look at the list in a moment.")
JOIN_ERRORS = {
    "username": ("username", N_("Use 3 to 64 letters or numbers. You may also use . _ - and @.")),
    "password": ("password", N_("Use 10 to 256 characters.")),
    "username-taken": ("username", N_("This username is taken. Choose another one.")),
    "invite-unknown": ("code", N_("This invite code does not work. Check it, or ask your "
                                  "department's administrator for a new one.")),
    "invite-used": ("code", N_("This invite code was used already. Ask your department's "
                               "administrator for a new one.")),
    "invite-expired": ("code", N_("This invite code is too old. Ask your department's "
                                  "administrator for a new one.")),
    "department-disabled": ("code", N_("Your department cannot sign in here now. Ask your "
                                       "department's administrator for help.")),
}


def console() -> Portal:
    return current_app.extensions["console"]


def stores():
    return current_app.extensions["gateway"].stores


def me() -> dict | None:
    return session.get("staff")


def page(template: str, status: int = 200, **context) -> Response:
    """A console page: the console's header, never the patient's."""
    return render_page(template, status, console=True, me=None, staff_me=me(), once_token=new_token,
                       **context)


def see_other(endpoint: str) -> Response:
    return redirect(url_for(endpoint), 303)


# forms that make something: once per form, however often it is sent (gateway/portal/once.py) ---------
def first_send(fallback: str, anonymous: bool = False) -> tuple[str | None, Response | None]:
    """Claim the form's one-time token: (token, None) on its first send; (None, a redirect to what
    the first send made, else to FALLBACK) on any later one. A form without a token (a page
    loaded before tokens were given) is sent as it is: (None, None). An ANONYMOUS send claims it
    for no one: the claim's time would otherwise tie the person to what they sent."""
    token = request.form.get("once", "")
    if not 20 <= len(token) <= 64:
        return None, None
    first, went = stores().form_sends.claim(token, "" if anonymous else (me()["sub"] or ""))
    if first:
        return token, None
    flash(_(SENT_ALREADY if went else STILL_SENDING), "status")
    return None, redirect(went or fallback, 303)


def sent(token: str | None, where: str) -> Response:
    """The form's first send made something, shown at WHERE (a path): remember it, go there."""
    if token:
        stores().form_sends.done(token, where)
    return redirect(where, 303)


def unsent(token: str | None, refused: Exception) -> None:
    """The form's first send made nothing: the same form may be sent again. Only a refusal says
    so (a 4xx, or the person signed out); after a timeout or a server error the request may have
    been made, so the token stays claimed and a second send goes to the list instead."""
    if token and (isinstance(refused, SignedOut) or (isinstance(refused, ApiError) and refused.status < 500)):
        stores().form_sends.release(token)


def api(method: str, path: str, **kw) -> dict:
    """Call the API as the signed-in member of staff, in the page's language."""
    return call_as("staff", console(), method, path, **kw)


def person_name(who: dict | None) -> str:
    """A member of staff's name, as the gateway's staff accounts hold it; '' when unknown."""
    if not who or not who.get("sub"):
        return ""
    account = stores().staff.account(account_id=who["sub"])
    return account.display_name if account else ""


#: Who may use the pages of each role's work (one role, or any of several); anyone else gets a
#: 403 page saying so.
ROLE_ONLY = {("clinician",): N_("Only a clinician can use this page."),
             ("privacy-officer",): N_("Only a privacy officer can use this page."),
             ("records-officer",): N_("Only a records officer of this department may do this."),
             ("quality",): N_("Only the quality team can use this page."),
             ("quality", "privacy-officer"): N_("Only quality staff or a privacy officer can use this page."),
             ("clinician", "privacy-officer"): N_("Only a clinician or a privacy officer can use this page.")}


def needs(*roles: str) -> Response | None:
    """A 403 page unless the signed-in person holds one of ROLES (signed out: back to sign in)."""
    tok = me()
    if tok is None:
        raise SignedOut(401)
    if any(role in tok.get("roles", []) for role in roles):
        return None
    return page("error.html", 403, title=_("Not allowed"), message=_(ROLE_ONLY[roles]))


def pulse_due() -> bool:
    """Whether the signed-in person has not yet answered (or put off) this week's pulse
    (gateway/portal/console_pulse.py)."""
    tok = me()
    return bool(tok and tok.get("sub") and tok.get("dept")) and \
        not stores().pulse.asked(tok["sub"], this_week())


def is_admin() -> bool:
    tok = me()
    return bool(tok) and ADMIN_SCOPE in tok.get("scope", "").split()


# errors and forms ----------------------------------------------------------------------------------
@bp.errorhandler(SignedOut)
def signed_out(_exc):
    flash(_(SIGN_IN_AGAIN), "status")
    return see_other("console.home")


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    status = 502 if exc.status >= 500 else exc.status
    return page("error.html", status, title=_("Something went wrong"), message=exc.text() or _(API_DOWN))


@bp.errorhandler(413)
def too_large(_exc):
    # As in the portal (gateway/portal/views.py): an oversized form gets a page, not problem+json.
    return page("error.html", 413, title=_("Something went wrong"), message=_("What you sent is too large."))


@bp.before_request
def check_form_token():
    if request.method == "POST" and not csrf_ok(request.form.get("csrf_token")):
        return page("error.html", 400, title=_("Something went wrong"), message=_(FORM_EXPIRED))
    return None


# signing in and out --------------------------------------------------------------------------------
@bp.get("/console/signin")
def signin():
    """Start the authorization code flow with PKCE S256 as the console's client."""
    pkce = Pkce.new()
    session["console_pkce"] = {"state": pkce.state, "verifier": pkce.verifier}
    return redirect(console().authorize_url(pkce), 303)


@bp.get("/console/callback")
def callback():
    """Finish sign-in: check the state, trade the code for tokens (RFC 6749 section 4.1.2)."""
    started = session.pop("console_pkce", None)
    state = request.args.get("state")
    if not started or not state or not hmac.compare_digest(state, started["state"]) \
            or "code" not in request.args:
        flash(_("That sign-in did not work. Please try again."), "status")
        return see_other("console.home")
    tokens = console().exchange_code(request.args["code"], Pkce(**started))
    claims = claims_of(tokens["access_token"])
    session["staff"] = {"access": tokens["access_token"], "refresh": tokens.get("refresh_token"),
                        "exp": tokens["expires_at"], "scope": tokens.get("scope", ""),
                        "sub": claims.get("sub"), "dept": claims.get("dept"),
                        "roles": [r for r in claims.get("role") or [] if r in STAFF_ROLES]}
    account = stores().staff.account(account_id=claims.get("sub") or "")
    session["staff"]["name"] = account.display_name if account else ""
    return see_other("console.home")


@bp.post("/console/signout")
def signout():
    tok = session.pop("staff", None) or {}
    if tok.get("refresh"):
        console().revoke(tok["refresh"])
    flash(_("You are signed out."), "status")
    return see_other("console.home")


# the pages --------------------------------------------------------------------------------------------
@bp.get("/console/")
def home():
    """Who is signed in and, for an admin, the department's staff and the invite form."""
    tok = me()
    if tok is None:
        return page("console/signed_out.html", title=_("Staff console"))
    lang = current_language().used
    department = stores().directory.entry(tok["dept"] or "") or {}
    names = department.get("names") or {}
    context = dict(department_name=names.get(lang) or names.get("en") or tok["dept"],
                   roles=[_(ROLE_NAMES[r]) for r in tok["roles"]], admin=is_admin(),
                   staff=[], all_roles=[(r, _(ROLE_NAMES[r])) for r in STAFF_ROLES],
                   errors={}, form={}, pulse=PULSE_QUESTIONS if pulse_due() else None)
    if context["admin"]:
        context["staff"] = api("GET", "/staff/v1/admin/staff")["items"]
    return page("console/home.html", title=_("Staff console"), **context)


@bp.post("/console/invite")
def invite():
    """Invite a person (admins): the code is shown on the next page, once."""
    if not is_admin():
        if me() is None:
            raise SignedOut(401)
        return page("error.html", 403, title=_("Not allowed"),
                    message=_("Only an admin of this department may do this."))
    name = request.form.get("display_name", "").strip()
    roles = [r for r in request.form.getlist("roles") if r in STAFF_ROLES]
    errors = {}
    if not name:
        errors["display_name"] = _("Write the person's name.")
    if not roles:
        errors["roles"] = _("Choose one or more roles.")
    if not errors:
        token, again = first_send("/console/")
        if again:
            return again
        try:
            made = api("POST", "/staff/v1/admin/invites", json={"roles": roles, "display_name": name})
        except (ApiError, SignedOut) as exc:
            unsent(token, exc)
            if isinstance(exc, SignedOut) or exc.status >= 500 or exc.status in (401, 403):
                raise
            named = [f for f in exc.fields if f in ("display_name", "roles")] or ["display_name"]
            errors = {f: exc.text() or _(API_DOWN) for f in named}
        else:
            # The code is shown once, on the page this redirects to: a reload shows it no more,
            # and sending the form again makes no second invite.
            session["invited"] = made
            return sent(token, "/console/invited")
    tok = me()
    department = stores().directory.entry(tok["dept"] or "") or {}
    names = department.get("names") or {}
    lang = current_language().used
    return page("console/home.html", 400, title=_("Staff console"),
                department_name=names.get(lang) or names.get("en") or tok["dept"],
                roles=[_(ROLE_NAMES[r]) for r in tok["roles"]], admin=True,
                staff=api("GET", "/staff/v1/admin/staff")["items"],
                all_roles=[(r, _(ROLE_NAMES[r])) for r in STAFF_ROLES], errors=errors,
                form={"display_name": name, "roles": roles})


@bp.get("/console/invited")
def invited():
    """The invite code just made, once; afterwards, the console's home page."""
    made = session.pop("invited", None)
    if made is None or not is_admin():
        return see_other("console.home")
    return page("console/invited.html", title=_("Invite code made"), invite=made)


def _not_admin() -> Response:
    if me() is None:
        raise SignedOut(401)
    return page("error.html", 403, title=_("Not allowed"),
                message=_("Only an admin of this department may do this."))


def _member(staff_id: str) -> dict | None:
    """The member of the admin's department with STAFF_ID, as the staff admin API lists them."""
    return next((m for m in api("GET", "/staff/v1/admin/staff")["items"] if m["id"] == staff_id), None)


def _person_page(person: dict, status: int = 200, errors: dict | None = None,
                 roles: list[str] | None = None) -> Response:
    return page("console/person.html", status, title=person["display_name"], person=person,
                all_roles=[(r, _(ROLE_NAMES[r])) for r in STAFF_ROLES], errors=errors or {},
                checked=roles if roles is not None else [r["code"] for r in person["roles"]],
                is_me=person["id"] == me()["sub"])


@bp.get("/console/staff/<staff_id>")
def person(staff_id: str):
    """One member of the department's staff (admins): their roles, and turning the account off."""
    if not is_admin():
        return _not_admin()
    found = _member(staff_id)
    if found is None:
        return page("error.html", 404, title=_("Not found"),
                    message=_("Your department has no member of staff with this id."))
    return _person_page(found)


@bp.post("/console/staff/<staff_id>/roles")
def person_roles(staff_id: str):
    if not is_admin():
        return _not_admin()
    found = _member(staff_id)
    if found is None:
        return page("error.html", 404, title=_("Not found"),
                    message=_("Your department has no member of staff with this id."))
    roles = [r for r in request.form.getlist("roles") if r in STAFF_ROLES]
    if not roles:
        return _person_page(found, 400, {"roles": _("Choose one or more roles.")}, roles)
    try:
        api("PUT", f"/staff/v1/admin/staff/{staff_id}/roles", json={"roles": roles})
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return _person_page(found, exc.status, {"roles": exc.text() or _(API_DOWN)}, roles)
    flash(_("The roles of {name} are saved. They sign in again to use them.",
            name=found["display_name"]), "status")
    return see_other("console.home")


@bp.post("/console/staff/<staff_id>/disable")
def person_disable(staff_id: str):
    if not is_admin():
        return _not_admin()
    found = _member(staff_id)
    if found is None:
        return page("error.html", 404, title=_("Not found"),
                    message=_("Your department has no member of staff with this id."))
    if request.form.get("sure") != "yes":
        return _person_page(found, 400, {"sure": _("Tick the box to say you are sure.")})
    try:
        api("POST", f"/staff/v1/admin/staff/{staff_id}/disable")
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return _person_page(found, exc.status, {"sure": exc.text() or _(API_DOWN)})
    flash(_("The account of {name} is turned off. They can no longer sign in.",
            name=found["display_name"]), "status")
    return see_other("console.home")


@bp.route("/console/join", methods=["GET", "POST"])
def join():
    """Make a staff account with an invite code: a username and a password. The second step is
    set up at the first sign-in."""
    errors, form, wait = {}, request.form, 0
    if request.method == "POST":
        code, username = form.get("code", "").strip(), form.get("username", "").strip()
        password = form.get("password", "")
        if not code:
            errors["code"] = _("Enter the invite code.")
        if not username:
            errors["username"] = _("Choose a username.")
        if not password:
            errors["password"] = _("Choose a password.")
        try:
            wait = current_app.extensions["console_joins"].take(request.remote_addr or "?") if not errors else 0
            if wait:
                errors["code"] = _(TOO_MANY, seconds=wait)
        except LimitsUnavailable as down:  # the shared store is away: no tries (ratelimit.py)
            wait = down.seconds
            errors["code"] = _(CANNOT_COUNT, seconds=wait)
        if not errors:
            try:
                stores().staff.redeem_invite(code[:64], username[:64], password[:300],
                                             stores().directory.active)
                return page("console/joined.html", 201, title=_("Your account is ready"))
            except StaffError as refused:
                field, message = JOIN_ERRORS.get(refused.reason, ("code", API_DOWN))
                errors[field] = _(message)
    status = (429 if wait else 400) if errors else 200
    return page("console/join.html", status, title=_("Make your account"), errors=errors, form=form)
