"""Portal accounts from activation codes, as patient portals do (DESIGN sections 3 and 5)."""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid

from argon2 import PasswordHasher
from flask import Blueprint, jsonify, request

from gateway.proxy import Guard, Upstreams
from gateway.ratelimit import TokenBucket
from gateway.store import Store, now
from services.common.problem import Problem

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read aloud
CODE_LENGTH = 12  # about 59 bits
MAX_FAILED_ATTEMPTS = 5
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_PASSWORD = 10
NO_MATCH = ("The activation code and birth date do not match our records. "
            "Check both and try again, or ask your care team for a new code.")


def new_code() -> str:
    """Return a code like ABCD-EFGH-JKMN."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def preferred_language(patient: dict) -> str | None:
    """Return the first Patient.communication[].language.coding[].code, if any."""
    for comm in patient.get("communication") or []:
        for coding in ((comm or {}).get("language") or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def _json_body(*fields: str) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "Send a JSON object.")
    missing = [f for f in fields if not isinstance(body.get(f), str) or not body[f].strip()]
    if missing:
        raise Problem(422, "Invalid input", f"These fields are missing or not text: {', '.join(missing)}.",
                      fields=missing)
    return body


def create_blueprint(store: Store, guard: Guard, upstreams: Upstreams, code_days: int,
                     activation_limiter: TokenBucket) -> Blueprint:
    bp = Blueprint("accounts", __name__)
    hasher = PasswordHasher()

    @bp.post("/accounts/v1/activation-codes")
    def create_activation_code():
        """Give the custodian department a code its patient can activate an account with."""
        claims = guard.check(("system", "Patient", "r"))
        if not claims.get("dept"):
            raise Problem(403, "Forbidden", "Only a department may ask for activation codes.")
        patient_id = _json_body("patient")["patient"].strip()
        if not FHIR_ID.match(patient_id):
            raise Problem(422, "Invalid input", "'patient' is not a FHIR id.", fields=["patient"])
        patient = _fetch_patient(upstreams, patient_id)
        birth_date = patient.get("birthDate")
        if not isinstance(birth_date, str) or not DATE.match(birth_date):
            raise Problem(422, "Invalid input",
                          "The patient's record has no full birth date, which the patient needs "
                          "to activate an account. Add it to the record first.")
        code = new_code()
        expires = store.save_activation_code(normalise_code(code), patient_id, birth_date,
                                             preferred_language(patient), claims["dept"],
                                             code_days * 86400)
        expires_at = dt.datetime.fromtimestamp(expires, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return jsonify(code=code, expires_at=expires_at, patient=patient_id), 201

    @bp.post("/accounts/v1/activate")
    def activate():
        """Open a portal account with an activation code, the birth date and a new password."""
        wait = activation_limiter.take(request.remote_addr or "?")
        if wait:
            raise Problem(429, "Too Many Requests",
                          f"Too many activation attempts; wait {wait} seconds and try again.",
                          headers={"Retry-After": str(wait)})
        body = _json_body("code", "birth_date", "username", "password")
        username, password = body["username"].strip(), body["password"]
        if not USERNAME.match(username):
            raise Problem(422, "Invalid input", "Choose a username of 3 to 64 letters, digits, "
                          "dots, dashes, underscores or @.", fields=["username"])
        if not MIN_PASSWORD <= len(password) <= 256:
            raise Problem(422, "Invalid input",
                          f"Choose a password of at least {MIN_PASSWORD} characters.", fields=["password"])
        row = store.activation_code(normalise_code(body["code"]))
        if row is None:
            raise Problem(400, "Activation failed", NO_MATCH, slug="activation-failed")
        if row["used_at"] or row["expires_at"] < now() \
                or row["failed_attempts"] >= MAX_FAILED_ATTEMPTS:
            raise Problem(410, "Activation code no longer valid",
                          "This activation code has expired or can no longer be used. "
                          "Ask your care team for a new one.", slug="activation-code-invalid")
        if body["birth_date"].strip() != row["birth_date"]:
            store.count_failed_activation(row["id"])
            raise Problem(400, "Activation failed", NO_MATCH, slug="activation-failed")
        failure = store.open_account(row["id"], str(uuid.uuid4()), username, hasher.hash(password),
                                     row["patient"], row["language"])
        if failure == "username":
            raise Problem(409, "Username taken", "That username is taken; choose another.",
                          fields=["username"])
        if failure == "patient":
            raise Problem(409, "Account exists",
                          "This health record already has a portal account. Sign in instead, "
                          "or ask your care team for help.")
        if failure == "used":
            raise Problem(410, "Activation code no longer valid",
                          "This activation code was just used. Ask your care team for a new one.",
                          slug="activation-code-invalid")
        return jsonify(username=username, patient=row["patient"]), 201

    @bp.post("/patient/v1/proxies")
    def invite_proxy():
        """Invite a caregiver (not built yet)."""
        raise Problem(501, "Not Implemented", "Inviting a caregiver is not available yet.",
                      slug="not-implemented")

    return bp


def _fetch_patient(upstreams: Upstreams, patient_id: str) -> dict:
    """Read the Patient from records with the caller's own token (records checks custody)."""
    headers = {"Authorization": request.headers["Authorization"], "Accept": "application/fhir+json"}
    if "traceparent" in request.headers:
        headers["traceparent"] = request.headers["traceparent"]
    resp = upstreams.call("records", "GET", f"/fhir/Patient/{patient_id}", headers=headers)
    if resp.status_code == 404:
        raise Problem(404, "Not Found", f"Your department has no patient {patient_id}.")
    if resp.status_code in (401, 403):
        raise Problem(403, "Forbidden", f"Your department may not read patient {patient_id}.")
    if resp.status_code != 200:
        raise Problem(502, "Bad Gateway", f"The records service answered {resp.status_code}.")
    try:
        patient = json.loads(resp.body)
    except ValueError:
        patient = None
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise Problem(502, "Bad Gateway", "The records service did not return a Patient.")
    return patient
