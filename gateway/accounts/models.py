"""The users tokens are issued to: a portal account, a caregiver acting for a patient, or a
member of a department's staff."""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class StaffAccount:
    """A person who signs in for one department with a password and a second factor
    (gateway/accounts/staff.py). Their Practitioner resource is ``fhir_user``."""

    id: str
    department: str
    username: str
    display_name: str
    roles: tuple[str, ...]  # contracts.vocabulary.STAFF_ROLES, in that order
    practitioner: str  # a FHIR id
    status: str  # "pending" (second factor not confirmed yet) | "active" | "disabled"
    created_at: int
    activated_at: int | None = None
    disabled_at: int | None = None
    invite_id: str | None = None  # the invite the account was opened with
    password_hash: str = field(default="", repr=False)
    totp_secret: str = field(default="", repr=False)
    totp_last_step: int | None = field(default=None, repr=False)

    @property
    def fhir_user(self) -> str:
        return f"Practitioner/{self.practitioner}"

    def get_user_id(self):
        return self.id
