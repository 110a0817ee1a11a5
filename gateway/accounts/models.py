"""The users tokens are issued to: a portal account, or a caregiver acting for a patient."""
from __future__ import annotations

from dataclasses import dataclass

PATIENT_ACCOUNT, CAREGIVER_ACCOUNT = "patient", "caregiver"


@dataclass
class Account:
    """A portal account: a patient's own, or a caregiver's (``patient`` is None)."""

    id: str
    username: str
    password_hash: str
    patient: str | None
    language: str | None
    failed_logins: int
    locked_until: int
    created_at: int
    kind: str = PATIENT_ACCOUNT
    birth_date: str | None = None

    def get_user_id(self):
        return self.id


@dataclass
class ActingCaregiver:
    """A caregiver signed in to act for one patient under one grant (RFC 8693 ``act``)."""

    id: str  # the caregiver's account id (the actor)
    username: str
    language: str | None
    patient: str  # the patient's FHIR id
    patient_account_id: str  # the token's ``sub``: the person acted for
    grant_id: str
    scope: str  # the most the grant's rights allow
    ends_at: int  # no token outlives this

    def get_user_id(self):
        return self.id
