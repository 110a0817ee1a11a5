"""Portal accounts from activation codes, as patient portals do (docs/architecture.md,
"Security model")."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid

from flask import Blueprint, jsonify, request

from contracts.http import FHIR_ID_RE
from contracts.schemas import ActivateRequestSchema, ActivationCodeRequestSchema
from gateway import storage
from gateway.accounts import caregivers
from gateway.accounts.codes import new_code, normalise_code
from gateway.accounts.credentials import MAX_PASSWORD, MIN_PASSWORD, USERNAME
from gateway.accounts.forwarded import HEADER as VOUCHED_ADDRESS, AddressVoucher
from gateway.accounts.signin import PasswordGate
from gateway.accounts.stores import AccountStore, GrantStore
from gateway.accounts.throttle import address_key
from gateway.proxy.guard import Guard
from gateway.proxy.ratelimit import Limiter
from gateway.proxy.upstreams import Upstreams
from services.common.bodies import load_body
from services.common.i18n import N_
from services.common.problem import Problem
from services.common.tracing import outgoing_headers

MAX_FAILED_ATTEMPTS = 5
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INVALID = N_("Invalid input")
NO_MATCH = N_("The activation code and birth date do not match our records.")
CHECK_OR_ASK = N_("Check both and try again, or ask your care team for a new code.")
ASK_NEW_CODE = N_("Ask your care team for a new activation code.")


def preferred_language(patient: dict) -> str | None:
    """Return the first Patient.communication[].language.coding[].code, if any."""
    for comm in patient.get("communication") or []:
        for coding in ((comm or {}).get("language") or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def create_blueprint(accounts: AccountStore, grants: GrantStore, guard: Guard,
                     upstreams: Upstreams, code_days: int, activation_limiter: Limiter,
                     voucher: AddressVoucher, gate: PasswordGate) -> Blueprint:
    bp = Blueprint("accounts", __name__)
    hasher = gate.hasher  # the one the sign-in checks these passwords with

    def limit_activation(key: str) -> None:
        """Spend one try of KEY's budget or raise 429 (also while the shared store is away)."""
        wait = activation_limiter.take(key)
        if wait:
            raise Problem(429, N_("Too Many Requests"),
                          N_("Too many tries to open an account. Wait {seconds} seconds, then try again."),
                          headers={"Retry-After": str(wait)}, params={"seconds": wait})

    @bp.post("/accounts/v1/activation-codes")
    def create_activation_code():
        """Give the custodian department a code its patient can activate an account with."""
        claims = guard.check(("system", "Patient", "r"))
        if not claims.get("dept"):
            raise Problem(403, N_("Forbidden"), N_("Only a department may ask for activation codes."))
        patient_id = load_body(ActivationCodeRequestSchema())["patient"].strip()
        if not FHIR_ID_RE.match(patient_id):
            raise Problem(422, INVALID, N_("'patient' is not a FHIR id."), fields=["patient"])
        patient = _fetch_patient(upstreams, patient_id)
        birth_date = patient.get("birthDate")
        if not isinstance(birth_date, str) or not DATE.match(birth_date):
            raise Problem(422, INVALID,
                          N_("The patient's record has no full birth date, which the patient needs "
                             "to activate an account. Add it to the record first."))
        code = new_code()
        expires = accounts.save_activation_code(normalise_code(code), patient_id, birth_date,
                                             preferred_language(patient), claims["dept"],
                                             code_days * 86400)
        expires_at = dt.datetime.fromtimestamp(expires, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return jsonify(code=code, expires_at=expires_at, patient=patient_id), 201

    @bp.post("/accounts/v1/activate")
    def activate():
        """Open a portal account with an activation code, the birth date and a new password."""
        # Tries are counted per client (the visitor's address when the portal vouches for it,
        # forwarded.py) and per code, so one client's tries never hold up another's.
        client = voucher.address(request.headers.get(VOUCHED_ADDRESS)) or request.remote_addr
        limit_activation("address " + address_key(client or "?"))  # an IPv6 host as its /64
        body = load_body(ActivateRequestSchema())
        limit_activation("code " + storage.digest(normalise_code(body["code"])))
        username, password = body["username"].strip(), body["password"]
        if not USERNAME.match(username):
            raise Problem(422, INVALID, N_("Choose a username of 3 to 64 letters, digits, "
                                           "dots, dashes, underscores or @."), fields=["username"])
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise Problem(422, INVALID, N_("Choose a password of at least {count} characters."),
                          params={"count": MIN_PASSWORD}, fields=["password"])
        row = accounts.activation_code(normalise_code(body["code"]))
        if row is None:
            invite = grants.grant_by_invite(normalise_code(body["code"]))
            if invite is not None:  # a caregiver's invite (caregivers.py)
                return jsonify(caregivers.join(accounts, grants, gate, invite, body, username,
                                               password, client or "?")), 201
            raise Problem(400, N_("Activation failed"), NO_MATCH, slug="activation-failed",
                          next_step=CHECK_OR_ASK)
        if row["used_at"] or row["expires_at"] < storage.now() \
                or row["failed_attempts"] >= MAX_FAILED_ATTEMPTS:
            raise Problem(410, N_("Activation code no longer valid"),
                          N_("This activation code has expired or can no longer be used."),
                          slug="activation-code-invalid", next_step=ASK_NEW_CODE)
        if body["birth_date"].strip() != row["birth_date"]:
            accounts.count_failed_activation(row["id"])
            raise Problem(400, N_("Activation failed"), NO_MATCH, slug="activation-failed",
                          next_step=CHECK_OR_ASK)
        failure = accounts.open_account(row["id"], str(uuid.uuid4()), username, hasher.hash(password),
                                     row["patient"], row["language"], row["birth_date"])
        if failure == "username":
            raise Problem(409, N_("Username taken"), N_("Someone else has that username."),
                          next_step=N_("Choose another username."), fields=["username"])
        if failure == "patient":
            raise Problem(409, N_("Account exists"),
                          N_("This health record already has a portal account."),
                          next_step=N_("Sign in instead, or ask your care team for help."))
        if failure == "used":
            raise Problem(410, N_("Activation code no longer valid"),
                          N_("This activation code was just used."),
                          slug="activation-code-invalid", next_step=ASK_NEW_CODE)
        return jsonify(username=username, patient=row["patient"]), 201

    return bp


def _fetch_patient(upstreams: Upstreams, patient_id: str) -> dict:
    """Read the Patient from records with the caller's own token (records checks custody)."""
    headers = outgoing_headers({"Authorization": request.headers["Authorization"],
                                "Accept": "application/fhir+json"})
    resp = upstreams.call("records", "GET", f"/fhir/Patient/{patient_id}", headers=headers)
    if resp.status_code == 404:
        raise Problem(404, N_("Not Found"), N_("Your department has no patient {patient}."),
                      params={"patient": patient_id})
    if resp.status_code in (401, 403):
        raise Problem(403, N_("Forbidden"), N_("Your department may not read patient {patient}."),
                      params={"patient": patient_id})
    if resp.status_code != 200:
        raise Problem(502, N_("Bad Gateway"), N_("The records service answered {status}."),
                      params={"status": resp.status_code})
    try:
        patient = json.loads(resp.body)
    except ValueError:
        patient = None
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise Problem(502, N_("Bad Gateway"), N_("The records service did not return a Patient."))
    return patient
