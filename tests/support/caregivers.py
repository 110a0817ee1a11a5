"""A demo patient's caregiver, made through the public API as a patient and a caregiver would."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from launcher.demo.seed import DEMO_DIR, patient_of
from tests.support.client import PORTAL_SCOPE, demo_patient_headers, patient_login

PASSWORD = "correct horse battery staple"
#: What a caregiver's app asks for; the token carries only what the grant's rights allow.
CAREGIVER_SCOPE = PORTAL_SCOPE + " patient/Observation.c patient/Task.c"


def birth_date(patient_id: str) -> str:
    """The demo patient's birth date, from the bundle the stack imported."""
    for path in DEMO_DIR.glob("*.json"):
        patient = patient_of(json.loads(Path(path).read_text()))
        if patient["id"] == patient_id:
            return patient["birthDate"]
    raise LookupError(patient_id)


def caregiver(stack, index: int, rights: list[str]) -> tuple[dict, dict, dict]:
    """Demo patient INDEX invites a new caregiver with RIGHTS, who joins and signs in.

    Return (the patient's auth headers, the grant as the invite answered it, the caregiver's
    token response)."""
    who, patient = demo_patient_headers(stack, index)
    invited = requests.post(f"{stack.gateway}/patient/v1/proxies", headers=patient, timeout=10,
                            json={"rights": rights, "relationship": "caregiver"})
    assert invited.status_code == 201, invited.text
    username = f"carer-{uuid.uuid4().hex[:8]}"
    joined = requests.post(f"{stack.gateway}/accounts/v1/activate", timeout=10, json={
        "code": invited.json()["invite_code"], "birth_date": birth_date(who["patient"]),
        "username": username, "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    portal = stack.credentials()["portal"]
    tokens = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"], username,
                           PASSWORD, scope=CAREGIVER_SCOPE)
    return patient, invited.json(), tokens
