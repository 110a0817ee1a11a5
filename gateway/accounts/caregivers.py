"""Caregivers: a patient gives another person limited, expiring rights.

The tables, the events and the API path keep the older name "proxy" (``proxy_grants``,
``phr.accounts.proxy-activated``, ``/patient/v1/proxies``); the reverse proxy is gateway/proxy/.

How it works:

1. ``POST /patient/v1/proxies`` (the patient's own token; never a token that carries ``act``)
   with ``{rights, relationship, expires_on?, name?}`` stores a *grant* and answers a one-time
   invite code (shown once, stored hashed). Rights are ``view-records`` (``patient/*.rs``),
   ``manage-consents`` (``patient/Consent.cruds``) and ``request-corrections``
   (``patient/Task.c``: file correction requests). ``expires_on`` is the last day of access
   (inclusive, UTC): default one year from today, at most five years. ``guardian`` is only for
   a patient under 18 (birth date from activation): the grant's last day is then the day
   before the 18th birthday at the latest, so a guardian's rights end by themselves.
2. The caregiver opens an account with ``POST /accounts/v1/activate`` and ``{code: <invite>,
   birth_date: <the patient's>, username, password}``. A caregiver who already has an account
   gives its username and password and the grant joins it.
3. The caregiver signs in with the same portal login and PKCE. The token's ``sub`` is the
   patient's account and ``act.sub`` the caregiver's (RFC 8693 section 4.1); it carries the
   patient's ``patient`` and only the scopes the rights allow (plus ``openid`` and
   ``offline_access``; no ``fhirUser``: the caregiver is not the Patient). No access or refresh
   token is issued after the grant's end or its revocation, and none lives past the end.
   Limitation: a caregiver with grants for several patients acts for the first active one
   (the one they joined first), unless the authorization request names one with
   ``patient=<FHIR id>`` (an extra authorization parameter; there is no patient picker page).
4. ``DELETE /patient/v1/proxies/{id}`` revokes the grant (again is harmless) and every token
   issued under it, through the revocation list the reverse proxy checks on every request.
   A grant's natural end needs no list: its tokens expire with it.
5. Grants, revocations, the caregiver joining and signing in are stored in ``proxy_events``
   and logged, with who acted; the services record ``act`` on what a caregiver does.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from babel.dates import format_date
from flask import Blueprint, jsonify

from contracts.schemas.proxies import ProxyInviteRequestSchema
from gateway import storage
from gateway.accounts.codes import new_code, normalise_code
from gateway.accounts.models import CAREGIVER_ACCOUNT, PATIENT_ACCOUNT, Account, ActingCaregiver
from gateway.accounts.signin import PasswordGate
from gateway.accounts.stores import AccountStore, GrantStore
from gateway.accounts.throttle import told_wait
from gateway.proxy.guard import Guard
from services.common import i18n
from services.common.bodies import load_body
from services.common.i18n import N_, translate
from services.common.problem import Problem

log = logging.getLogger(__name__)

# Asking the custodian to correct a record files a FHIR Task: a right apart from seeing. A caregiver
# who sees the records also reads the notices, and so chooses how their own notices reach them
# (patient/Communication.u: their own addresses and choices, services/exchange/entrypoints/notices.py).
RIGHTS = {"view-records": "patient/*.rs patient/Communication.u", "manage-consents": "patient/Consent.cruds",
          "request-corrections": "patient/Task.c"}
BASE_SCOPES = "openid offline_access"
DEFAULT_YEARS, MAX_YEARS, ADULT_AGE = 1, 5, 18
MAX_FAILED_ATTEMPTS = 5

RIGHT_TEXT = {"view-records": N_("See your health records"),
              "manage-consents": N_("Choose who may see your health records"),
              "request-corrections": N_("Ask your care team to correct your health records")}
RELATIONSHIP_TEXT = {"caregiver": N_("Caregiver"), "guardian": N_("Guardian")}
WHO = {"caregiver": N_("Your caregiver"), "guardian": N_("Your guardian")}
STATUS_TEXT = {"invited": N_("Invited, has not joined yet"), "active": N_("Active"),
               "revoked": N_("Stopped by you"), "ended": N_("Ended")}
SUMMARY = {
    ("view-records",): N_("{name} can see your health records until {date}."),
    ("manage-consents",): N_("{name} can choose who may see your health records until {date}."),
    ("manage-consents", "view-records"): N_(
        "{name} can see your health records and choose who may see them until {date}."),
    ("request-corrections",): N_(
        "{name} can ask your care team to correct your health records until {date}."),
    ("request-corrections", "view-records"): N_(
        "{name} can see your health records and ask your care team to correct them until {date}."),
    ("manage-consents", "request-corrections"): N_(
        "{name} can choose who may see your health records and ask your care team to correct "
        "them until {date}."),
    ("manage-consents", "request-corrections", "view-records"): N_(
        "{name} can see your health records, ask your care team to correct them, and choose "
        "who may see them until {date}."),
}
SUMMARY_ENDED = N_("{name} can no longer see or change anything for you.")
ENDS_AT_18 = N_("This ends when you turn 18.")
GIVE_CODE = N_("Give this code to {name}. They need it and your birth date to make an account.")
NOT_YOURS = N_("You have no caregiver with this id.")


# rules --------------------------------------------------------------------------------------
def scope_for(rights: list[str] | str) -> str:
    """Return the most a token under RIGHTS may carry."""
    codes = rights.split() if isinstance(rights, str) else rights
    return " ".join([BASE_SCOPES] + [RIGHTS[r] for r in sorted(set(codes))])


def add_years(day: dt.date, years: int) -> dt.date:
    """Return DAY moved by YEARS; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def coming_of_age(birth_date: dt.date) -> dt.date:
    """Return the 18th birthday (1 March for someone born on 29 February, in a common year)."""
    try:
        return birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:
        return dt.date(birth_date.year + ADULT_AGE, 3, 1)


def start_of(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp())


def today() -> dt.date:
    return dt.datetime.fromtimestamp(storage.now(), dt.timezone.utc).date()


def last_day(relationship: str, expires_on: dt.date | None, birth_date: dt.date,
             on: dt.date) -> tuple[dt.date, bool]:
    """Return the grant's last day of access and whether the patient's age set it.

    Raises a 422 Problem naming ``expires_on`` or ``relationship``.
    """
    latest = add_years(on, MAX_YEARS)
    if expires_on is not None and not on <= expires_on <= latest:
        raise Problem(422, N_("Invalid input"),
                      N_("Choose an end date from today up to {years} years from now."),
                      params={"years": MAX_YEARS}, fields=["expires_on"])
    chosen = expires_on or add_years(on, DEFAULT_YEARS)
    if relationship != "guardian":
        return chosen, False
    adult = coming_of_age(birth_date)
    if adult <= on:
        raise Problem(422, N_("Invalid input"),
                      N_("Only a patient under 18 can have a guardian here. Choose caregiver."),
                      fields=["relationship"])
    age_limit = adult - dt.timedelta(days=1)
    return min(chosen, age_limit), age_limit < chosen


def status(row, at: int) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["ends_at"] <= at:
        return "ended"
    return "active" if row["caregiver_account_id"] else "invited"


def is_active(row, at: int) -> bool:
    """May the caregiver act under this grant at AT?"""
    return status(row, at) == "active"


def acting_user(caregiver: Account, row) -> ActingCaregiver:
    """The user authlib issues a caregiver's token to, bound to the grant ROW."""
    return ActingCaregiver(id=caregiver.id, username=caregiver.username,
                           language=caregiver.language, patient=row["patient"],
                           patient_account_id=row["patient_account_id"], grant_id=row["id"],
                           scope=scope_for(row["rights"]), ends_at=row["ends_at"])


def choose_grant(grants: GrantStore, caregiver: Account, patient_hint: str | None = None):
    """Return the caregiver's active grant (for PATIENT_HINT if given, else the first joined), or None."""
    rows = grants.active_grants(caregiver.id, storage.now())
    if patient_hint:
        rows = [r for r in rows if r["patient"] == patient_hint]
    return rows[0] if rows else None


# patient-facing view (contracts/PATIENT_FACING.md) ---------------------------------------------
def _long_date(day: dt.date, lang: str) -> str:
    return format_date(day, format="long", locale=lang)


def view(row, lang: str, at: int) -> dict:
    """Describe one grant to its patient, in LANG."""
    state = status(row, at)
    rights = sorted(row["rights"].split())
    day = dt.date.fromisoformat(row["last_day"])
    name = row["name"] or translate(WHO[row["relationship"]], lang)
    if state in ("revoked", "ended"):
        summary = translate(SUMMARY_ENDED, lang, name=name)
    else:
        summary = translate(SUMMARY[tuple(rights)], lang, name=name, date=_long_date(day, lang))
        if row["limited_by_age"]:
            summary += " " + translate(ENDS_AT_18, lang)
    body = {
        "id": row["id"],
        "relationship": {"code": row["relationship"],
                         "display": translate(RELATIONSHIP_TEXT[row["relationship"]], lang)},
        "rights": [{"code": r, "display": translate(RIGHT_TEXT[r], lang)} for r in rights],
        "status": {"code": state, "status_text": translate(STATUS_TEXT[state], lang)},
        "expires_on": {"iso": row["last_day"], "display": _long_date(day, lang)},
        "ends_at": _iso(row["ends_at"]),
        "limited_by_age": bool(row["limited_by_age"]),
        "summary": summary,
    }
    if row["name"]:
        body["name"] = row["name"]
    return body


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


# HTTP ---------------------------------------------------------------------------------------------
def create_blueprint(accounts: AccountStore, grants: GrantStore, guard: Guard,
                     invite_days: int) -> Blueprint:
    """The patient's own routes for caregivers (served by the gateway, not forwarded)."""
    bp = Blueprint("proxies", __name__)

    def patient_account(interactions: str) -> tuple[dict, Account]:
        """Return the claims and account of a patient acting for themselves, else raise 403."""
        claims = guard.check(("patient", "Consent", interactions))
        if claims.get("act"):
            raise Problem(403, N_("Forbidden"),
                          N_("A caregiver cannot add, see or stop other caregivers."),
                          next_step=N_("Ask the patient to do this."))
        account = accounts.account(account_id=str(claims.get("sub", "")))
        if account is None or account.kind != PATIENT_ACCOUNT \
                or account.patient != claims.get("patient"):
            raise Problem(403, N_("Forbidden"), N_("This request needs a patient's access token."))
        i18n.use_preferred(claims.get("locale") or account.language)
        return claims, account

    def envelope(body: dict) -> dict:
        return {**body, "language": i18n.language_block(i18n.current_language())}

    @bp.post("/patient/v1/proxies")
    def invite():
        """Give a caregiver limited rights until a date; answer the invite code once."""
        claims, account = patient_account("c")
        body = load_body(ProxyInviteRequestSchema())
        if not account.birth_date:
            raise Problem(409, N_("Birth date missing"),
                          N_("We do not have your birth date, so we cannot invite a caregiver."),
                          next_step=N_("Ask your care team to add your birth date to your record."))
        on, at = today(), storage.now()
        day, by_age = last_day(body["relationship"], body.get("expires_on"),
                               dt.date.fromisoformat(account.birth_date), on)
        ends_at = start_of(day + dt.timedelta(days=1))
        code = new_code()
        row = grants.create_grant(
            id=str(uuid.uuid4()), patient=account.patient, patient_account_id=account.id,
            patient_birth_date=account.birth_date, relationship=body["relationship"],
            rights=" ".join(sorted(set(body["rights"]))), name=body.get("name"),
            last_day=day.isoformat(), ends_at=ends_at, limited_by_age=by_age,
            invite_hash=storage.digest(normalise_code(code)),
            invite_expires_at=min(at + invite_days * 86400, ends_at),
            failed_attempts=0, caregiver_account_id=None, created_at=at, activated_at=None,
            revoked_at=None)
        # Who, at DEBUG only: no patient identifier at INFO (README, "Tracing and logs").
        log.info("proxy grant %s created (%s, %s, until %s)", row["id"], row["relationship"],
                 row["rights"], row["last_day"])
        log.debug("proxy grant %s created by patient account %s for patient %s", row["id"], account.id,
                  account.patient)
        lang = i18n.current_language().used
        out = view(row, lang, at)
        name = row["name"] or translate(WHO[row["relationship"]], lang).lower()
        out.update(invite_code=code, invite_expires_at=_iso(row["invite_expires_at"]),
                   next_step=translate(GIVE_CODE, lang, name=name))
        return jsonify(envelope(out)), 201

    @bp.get("/patient/v1/proxies")
    def list_grants():
        """List the patient's caregivers, newest first."""
        _claims, account = patient_account("s")
        lang, at = i18n.current_language().used, storage.now()
        items = [view(row, lang, at) for row in grants.grants_of(account.patient)]
        return jsonify(envelope({"items": items, "next": None}))

    @bp.delete("/patient/v1/proxies/<grant_id>")
    def revoke(grant_id: str):
        """Stop a caregiver's rights at once, with every token they hold (again is harmless)."""
        _claims, account = patient_account("d")
        row = grants.revoke_grant(grant_id[:64], account.patient, account.id)
        if row is None:
            raise Problem(404, N_("Not Found"), NOT_YOURS,
                          next_step=N_("Go back to your list of caregivers and pick one."))
        guard.revocations.refresh()  # this process refuses the tokens from now on
        log.info("proxy grant %s revoked by its patient", grant_id)
        log.debug("proxy grant %s revoked by patient account %s", grant_id, account.id)
        return jsonify(envelope(view(row, i18n.current_language().used, storage.now())))

    return bp


# joining with an invite code (POST /accounts/v1/activate) -----------------------------------------
INVITE_NO_MATCH = N_("The code and birth date do not match our records.")
INVITE_CHECK = N_("Check both and try again, or ask the patient for a new code.")
INVITE_GONE = N_("This code has expired, was used, or was stopped by the patient.")
INVITE_ASK = N_("Ask the patient for a new code.")
WAIT_SECONDS = N_("Too many password tries. Wait {seconds} seconds, then try again.")
WAIT_MINUTES = N_("Too many password tries. Wait {minutes} minutes, then try again.")


def join(accounts: AccountStore, grants: GrantStore, gate: PasswordGate, row, body: dict,
         username: str, password: str, address: str) -> dict:
    """Open (or link) the caregiver's account for the grant ROW; return the 201 body.

    Linking an existing account checks its password under the sign-in throttle, from the
    visitor's ADDRESS: an invite code is no way around the delays of signing in.
    """
    at = storage.now()
    if status(row, at) != "invited" or row["invite_expires_at"] <= at \
            or row["failed_attempts"] >= MAX_FAILED_ATTEMPTS:
        raise Problem(410, N_("Activation code no longer valid"), INVITE_GONE,
                      slug="activation-code-invalid", next_step=INVITE_ASK)
    if body["birth_date"].strip() != row["patient_birth_date"]:
        grants.count_failed_invite(row["id"])
        raise Problem(400, N_("Activation failed"), INVITE_NO_MATCH, slug="activation-failed",
                      next_step=INVITE_CHECK)
    existing = accounts.account(username=username)
    if existing is None:
        taken = accounts.username_taken(username)  # a member of a department's staff has it
    else:  # linking the grant to an account only its caregiver may do, with its password
        taken = not (existing.kind == CAREGIVER_ACCOUNT and _owns(gate, username, password, address))
    if taken:
        raise Problem(409, N_("Username taken"), N_("Someone else has that username."),
                      next_step=N_("Choose another username."), fields=["username"])
    new = None if existing else dict(id=str(uuid.uuid4()), username=username,
                                     password_hash=gate.hasher.hash(password),
                                     language=i18n.current_language().requested)
    caregiver_id = grants.join_grant(row["id"], existing.id if existing else None, new)
    if caregiver_id is None:
        raise Problem(410, N_("Activation code no longer valid"), INVITE_GONE,
                      slug="activation-code-invalid", next_step=INVITE_ASK)
    log.info("a caregiver account joined proxy grant %s", row["id"])
    log.debug("caregiver account %s joined proxy grant %s for patient %s", caregiver_id, row["id"],
              row["patient"])
    return {"username": username, "patient": row["patient"]}


def _owns(gate: PasswordGate, username: str, password: str, address: str) -> bool:
    """Whether PASSWORD is USERNAME's, checked as a sign-in is; 429 while the throttle waits."""
    checked = gate.check(username, password, address)
    if checked.wait:
        unit, count, seconds = told_wait(checked.wait)
        raise Problem(429, N_("Too Many Requests"),
                      WAIT_SECONDS if unit == "seconds" else WAIT_MINUTES,
                      headers={"Retry-After": str(seconds)}, params={unit: count})
    return checked.account is not None


# signing in (gateway/authz/authorize.py, gateway/authz/oauth.py) ------------------------------
def principal(accounts: AccountStore, grants: GrantStore, account_id: str,
              grant_id: str | None):
    """Return who a code or refresh token was issued to: an Account, or a caregiver bound to a grant.

    Raises InvalidGrantError when the grant was revoked or ended: no token after that.
    """
    from authlib.oauth2.rfc6749 import InvalidGrantError

    account = accounts.account(account_id=account_id)
    if grant_id is None:
        return account
    row = grants.grant(grant_id)
    if account is None or row is None or row["caregiver_account_id"] != account.id \
            or not is_active(row, storage.now()):
        raise InvalidGrantError("The caregiver's access has ended or was stopped.")
    return acting_user(account, row)


def record_sign_in(grants: GrantStore, user: ActingCaregiver) -> None:
    """Store and log that a caregiver signed in to act for a patient."""
    grants.record_event(user.grant_id, user.patient, "signed-in", "caregiver", user.id)
    log.info("a caregiver signed in under proxy grant %s", user.grant_id)
    log.debug("caregiver account %s signed in to act for patient %s (grant %s)", user.id, user.patient,
              user.grant_id)
