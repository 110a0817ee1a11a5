"""The OAuth endpoints and SMART discovery (RFC 6749 sections 3.1-3.2, SMART App Launch 2)."""
from __future__ import annotations

import hashlib
import json
import secrets

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, jsonify, request

from gateway.accounts import caregivers
from gateway.accounts.devices import COOKIE as DEVICE_COOKIE, DeviceCookies
from gateway.accounts.models import CAREGIVER_ACCOUNT
from gateway.accounts.signin import PasswordGate
from gateway.accounts.stores import AccountStore, GrantStore
from gateway.accounts.throttle import told_wait
from gateway.authz.departments import supported_scopes
from gateway.authz.keys import public_jwks, webhook_key
from gateway.authz.models import APP, CONSOLE
from gateway.authz.oauth import ASSERTION_ALGS, GatewayAuthorizationServer
from gateway.authz.pages import render_page, trust_device as give_device_cookie
from gateway.authz.staff_login import StaffLogin
from gateway.authz.stores import TicketStore
from services.common import smart
from services.common.i18n import N_, _, use_preferred

__all__ = ["create_blueprint", "render_page"]  # render_page: the portal's pages use it too

OAUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state",
                "code_challenge", "code_challenge_method", "aud", "launch", "nonce",
                "patient")  # a caregiver's choice among the patients they act for
PLAIN_SCOPES = {
    "patient/*.rs": N_("Read your health record"),
    "patient/*.r": N_("Read your health record"),
    "patient/Consent.cruds": N_("See and change who may see your record"),
    "patient/Observation.c": N_("Add your own measurements, such as blood pressure"),
    "offline_access": N_("Keep you signed in on this device"),
    "fhirUser": N_("Know which health record is yours"),
    "openid": N_("Know who you are"),
}
BAD_LOGIN = N_("The username or password is not right. Check them and try again.")
# One answer whether the username exists or not, and whichever limit was reached.
WAIT_SECONDS = N_("Too many tries to sign in. Wait {seconds} seconds, then try again.")
WAIT_MINUTES = N_("Too many tries to sign in. Wait {minutes} minutes, then try again.")
EXPIRED = N_("Your sign-in has expired. Sign in again.")
MISSING = N_("Enter both your username and your password.")
NO_GRANT = N_("You cannot act for anyone right now. The patient may have stopped it, or it ended.")
APP_FOR_PATIENTS = N_("Only the patient can connect an app to their record. Ask the patient to do it.")
#: What a patient's app will see, type by type, in plain words (gateway/authz/registration.py
#: lets an app register only read scopes).
APP_READS = {
    "*": N_("Everything in your health record, like visits, tests, medicines and allergies"),
    "Patient": N_("Your name, birth date and how to reach you"),
    "Observation": N_("Your test results and measurements, such as blood pressure"),
    "Condition": N_("Your health problems"),
    "MedicationRequest": N_("Your medicines"),
    "MedicationStatement": N_("Your medicines"),
    "Medication": N_("Your medicines"),
    "AllergyIntolerance": N_("Your allergies"),
    "Immunization": N_("Your shots (vaccines)"),
    "Procedure": N_("Your surgeries and other procedures"),
    "Encounter": N_("Your visits"),
    "DiagnosticReport": N_("Your test reports"),
    "DocumentReference": N_("Your notes and documents"),
    "CarePlan": N_("Your care plans"),
    "Consent": N_("Who you let see your record"),
}
OTHER_READS = N_("Your records of the kind {kind}")
APP_EXTRAS = {
    "offline_access": N_("Your record again later, until you disconnect it"),
    "openid": N_("Who you are"),
    "fhirUser": N_("Who you are"),
}


def app_lines(scope: str) -> list[str]:
    """What an app may do, in plain words, one line each (no repeats)."""
    lines = []
    kinds = sorted({parsed[1] for s in scope.split()
                    if (parsed := smart.parse(s)) and parsed[0] == "patient" and "r" in parsed[2]})
    for kind in (["*"] if "*" in kinds else kinds):
        lines.append(_(APP_READS[kind]) if kind in APP_READS else _(OTHER_READS, kind=kind))
    lines += [_(APP_EXTRAS[s]) for s in scope.split() if s in APP_EXTRAS]
    return list(dict.fromkeys(lines))


def create_blueprint(server: GatewayAuthorizationServer, tickets: TicketStore,
                     accounts: AccountStore, grants: GrantStore, gate: PasswordGate,
                     devices: DeviceCookies, staff_login: StaffLogin) -> Blueprint:
    bp = Blueprint("oauth", __name__)  # its pages are in gateway/templates, the app's folder
    settings = server.settings
    audiences = {settings.issuer, settings.issuer + "/fhir", settings.audience}

    def params() -> list[tuple[str, str]]:
        values = request.values
        return [(name, values[name]) for name in OAUTH_PARAMS if name in values]

    def request_hash() -> str:
        return hashlib.sha256(json.dumps(params()).encode()).hexdigest()

    def validated_grant():
        """Validate the authorization request; return (grant, None) or (None, error response)."""
        try:
            grant = server.get_consent_grant(end_user=None)
            aud = request.values.get("aud")
            if aud is not None and aud.rstrip("/") not in audiences:
                raise OAuth2Error(error="invalid_request", description="Unknown 'aud'.",
                                  redirect_uri=grant.redirect_uri)
            return grant, None
        except OAuth2Error as error:
            if error.redirect_uri:  # validated against the client: tell the app (section 4.1.2.1)
                return None, server.handle_error_response(request, error)
            return None, render_page("error.html", 400, title=_("This sign-in link does not work"),
                               message=_("The app that sent you here gave a link we cannot use."),
                               technical=error.description or error.error)

    def login_page(grant, status=200, error=None, username="", **error_params):
        return render_page("login.html", status, title=_("Sign in"), action=request.path, params=params(),
                     client_name=grant.client.name, error=error and _(error, **error_params),
                     username=username)

    def wait_page(grant, wait: float, username: str) -> Response:
        """Say in words how long to wait; Retry-After says the same."""
        unit, count, seconds = told_wait(wait)
        message = WAIT_SECONDS if unit == "seconds" else WAIT_MINUTES
        page = login_page(grant, 429, message, username, **{unit: count})
        page.headers["Retry-After"] = str(seconds)
        return page

    def check_password(username: str, password: str):
        """Check a password under the throttle; return (account, wait)."""
        device = devices.nonce(request.cookies.get(DEVICE_COOKIE), username)
        checked = gate.check(username, password, request.remote_addr or "?", device)
        return checked.account, checked.wait

    def trust_device(page: Response, username: str) -> Response:
        return give_device_cookie(devices, page, username)

    @bp.route("/oauth/authorize", methods=["GET", "POST"])
    def authorize():
        """Sign the patient in, ask for approval, then redirect with a code (section 4.1.1)."""
        grant, failure = validated_grant()
        if failure is not None:
            return failure
        if grant.client.kind == CONSOLE:  # department staff: password, then a second factor
            return staff_login.handle(grant, params(), request_hash())
        form = request.form if request.method == "POST" else {}
        if "decision" in form:
            account_id = tickets.take_ticket(form.get("ticket", ""), request_hash())
            account = accounts.account(account_id=account_id) if account_id else None
            if account is None:
                return login_page(grant, 400, EXPIRED)
            user = account
            if account.kind == CAREGIVER_ACCOUNT and grant.client.kind == APP:
                return login_page(grant, 403, APP_FOR_PATIENTS)
            if account.kind == CAREGIVER_ACCOUNT:
                row = caregivers.choose_grant(grants, account, request.values.get("patient"))
                if row is None:
                    return login_page(grant, 403, NO_GRANT)
                user = caregivers.acting_user(account, row)
            user = user if form["decision"] == "allow" else None
            return server.create_authorization_response(grant_user=user, grant=grant)
        if "username" not in form and "password" not in form:
            return login_page(grant)
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not username or not password:
            return login_page(grant, 400, MISSING, username)
        account, wait = check_password(username, password)
        if wait:
            return wait_page(grant, wait, username)
        if account is None:
            return login_page(grant, 400, BAD_LOGIN, username)
        requested = (grant.request.scope or "").split()
        if account.kind == CAREGIVER_ACCOUNT and grant.client.kind == APP:
            return login_page(grant, 403, APP_FOR_PATIENTS, username)
        if account.kind == CAREGIVER_ACCOUNT:
            row = caregivers.choose_grant(grants, account, request.values.get("patient"))
            if row is None:
                return login_page(grant, 403, NO_GRANT, username)
            requested = smart.within(requested, caregivers.scope_for(row["rights"]))
        ticket = secrets.token_urlsafe(32)
        tickets.save_ticket(ticket, account.id, request_hash())
        use_preferred(account.language)  # no Accept-Language: the patient's own language
        if grant.client.kind == APP:
            allowed = grant.client.get_allowed_scope(" ".join(requested)) or ""
            return trust_device(render_page(
                "approve_app.html", title=_("Connect this app?"), action=request.path,
                params=params(), ticket=ticket, username=account.username,
                client_name=grant.client.name, lines=app_lines(allowed)), username)
        scopes = [_(PLAIN_SCOPES[s]) if s in PLAIN_SCOPES else s
                  for s in requested]
        return trust_device(render_page(
            "approve.html", title=_("Allow access?"), action=request.path, params=params(),
            ticket=ticket, username=account.username, client_name=grant.client.name,
            scopes=list(dict.fromkeys(scopes))), username)

    @bp.post("/oauth/token")
    def token():
        """Issue tokens (RFC 6749 section 3.2)."""
        return server.create_token_response()

    @bp.post("/oauth/revoke")
    def revoke():
        """Revoke a token (RFC 7009 section 2)."""
        return server.create_endpoint_response("revocation")

    @bp.post("/oauth/introspect")
    def introspect():
        """Describe a token (RFC 7662 section 2)."""
        return server.create_endpoint_response("introspection")

    @bp.get("/oauth/jwks")
    def jwks():
        """Publish the public signing keys (RFC 7517 section 5), and the exchange's webhook key."""
        resp = jsonify(public_jwks(server.keys, *webhook_key(settings.webhook_public_key_file)))
        resp.headers["Cache-Control"] = "public, max-age=300"
        return resp

    @bp.get("/.well-known/smart-configuration")
    def smart_configuration():
        """Describe this server (SMART App Launch 2, section "Conformance")."""
        base = settings.issuer
        return jsonify({
            "issuer": base,
            "jwks_uri": base + "/oauth/jwks",
            "authorization_endpoint": base + "/oauth/authorize",
            "token_endpoint": base + "/oauth/token",
            "introspection_endpoint": base + "/oauth/introspect",
            "revocation_endpoint": base + "/oauth/revoke",
            "registration_endpoint": base + "/oauth/register",
            "userinfo_endpoint": base + "/oauth/userinfo",
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "none"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
            "scopes_supported": sorted({*supported_scopes(), "launch/patient"}),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            # No client-confidential-symmetric: an app never gets a secret (a department's
            # client_secret_basic is for client credentials, not an app launch).
            "capabilities": ["launch-standalone", "authorize-post", "client-public",
                             "client-confidential-asymmetric",
                             "context-standalone-patient", "permission-offline",
                             "permission-patient", "permission-v2", "sso-openid-connect"],
        })

    return bp

