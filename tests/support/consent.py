"""Helpers for the consent service's tests: a patient's and a department's headers, a grant."""
from __future__ import annotations

from tests.support.tokens import TokenMint


def patient(mint: TokenMint, pid: str = "pat-1", **claims) -> dict:
    """Authorization headers for patient PID's app, allowed to manage their consents."""
    return mint.patient(pid, scope="patient/Consent.cruds patient/*.rs", sub=f"acc-{pid}", **claims)


def department(mint: TokenMint, dept: str = "cardiology", scope: str = "system/*.rs system/Consent.r") -> dict:
    return mint.department(dept, scope)


def grant(client, headers: dict, **body):
    """POST a consent (cardiology, to treat, Observations unless BODY says otherwise)."""
    body = {"grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"], **body}
    return client.post("/patient/v1/consents", json=body, headers=headers)
