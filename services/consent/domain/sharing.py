"""Sharing requests: a department's clinician asks a patient to share some records with it
(docs/architecture.md, "Consent rules"). The patient, or a caregiver who may change their
consents, approves (a consent is granted, by the same rule as any other: model.grant) or
declines. No framework here.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contracts.limits import ID_MAX, REASON_MAX
from services.consent.domain import model
from services.consent.domain.model import Departments, InvalidConsent, NotPermitted, Party, utc, within

PENDING, APPROVED, DECLINED, EXPIRED = "pending", "approved", "declined", "expired"
STATUSES = (PENDING, APPROVED, DECLINED, EXPIRED)
#: A request nobody answered in this many days expires: the patient is no longer asked.
ANSWER_DAYS = 30
#: How many requests one department may have waiting on one patient at once (against nagging).
MAX_PENDING = 3
#: The longest a request may ask a consent to last, in days (the portal's longest fixed choice,
#: one year); an open-ended consent is for the patient to give, not for a department to ask.
MAX_DAYS = 366
#: The role a request's asker is shown by when the token names several (only clinicians hold
#: the scope to ask: contracts/vocabulary.py ROLE_SCOPES).
ASKING_ROLE = "clinician"


@dataclass(frozen=True)
class Person:
    """The member of staff who asked: their account id, FHIR Practitioner reference and role."""

    sub: str
    fhir_user: str | None
    role: str | None

    def as_dict(self) -> dict:
        return {"sub": self.sub, "fhirUser": self.fhir_user}


@dataclass
class SharingRequest:
    """DEPARTMENT asks PATIENT to let it receive CLASSES for PURPOSES, for DAYS from the answer or
    until END, in the asker's own words (REASON)."""

    id: str
    patient: str
    department: str
    requested_by: Person
    classes: tuple[str, ...]
    purposes: tuple[str, ...]
    days: int | None
    end: datetime | None
    reason: str
    exchange_request: str | None
    created_at: datetime
    status: str = PENDING
    answered_at: datetime | None = None
    answered_by: Party | None = None
    consent_id: str | None = None
    events: list = field(default_factory=list, repr=False, compare=False)

    @property
    def expires_at(self) -> datetime:
        """When an unanswered request stops being asked."""
        return utc(self.created_at) + timedelta(days=ANSWER_DAYS)

    @property
    def same_key(self) -> str:
        """What makes two requests the same ask: the kinds of record and the purpose, in any order."""
        return open_key(self.classes, self.purposes)

    def status_at(self, now: datetime, departments: Departments) -> str:
        """The status as of NOW: a pending request past its answer window, past the end date it
        asks for, or whose department may no longer hold a consent (disabled, say), is expired."""
        if self.status != PENDING:
            return self.status
        if (utc(now) >= self.expires_at or (self.end is not None and utc(now) >= utc(self.end))
                or not model.may_receive(departments.get(self.department))):
            return EXPIRED
        return PENDING

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        """The consent's period if the patient says yes at NOW: DAYS from then, or until END."""
        return now, (utc(now) + timedelta(days=self.days)) if self.days is not None else utc(self.end)

    def approve(self, consent_id: str, by: Party, now: datetime, departments: Departments) -> None:
        self._answer(APPROVED, by, now, departments)
        self.consent_id = consent_id

    def decline(self, by: Party, now: datetime, departments: Departments) -> None:
        self._answer(DECLINED, by, now, departments)

    def _answer(self, answer: str, by: Party, now: datetime, departments: Departments) -> None:
        status = self.status_at(now, departments)
        if status == EXPIRED:
            raise Expired(self.id)
        if status != PENDING:
            raise AlreadyAnswered(self.id, status)
        self.status, self.answered_at, self.answered_by = answer, now, by
        self.events.append("answered")


class AlreadyAnswered(Exception):
    """The request was approved or declined before: an answer is given once."""

    def __init__(self, request_id: str, status: str):
        super().__init__(request_id)
        self.status = status


class Expired(Exception):
    """The request is past its answer window, or its department may no longer hold a consent."""


class Duplicate(Exception):
    """The department already waits on this patient for the same kinds of record and purpose."""

    def __init__(self, existing_id: str | None):
        super().__init__(existing_id)
        self.existing_id = existing_id


class TooMany(Exception):
    """The department already has MAX_PENDING requests waiting on this patient."""


def open_key(classes, purposes) -> str:
    """A short fixed-length key of a request's kinds of record and purpose (order does not count)."""
    text = "|".join(sorted(set(classes))) + "#" + "|".join(sorted(set(purposes)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def ask(patient, department: str, person: Person, classes, purposes, days, end: datetime | None,
        reason, exchange_request, now: datetime, waiting: list[SharingRequest], *,
        departments: Departments) -> SharingRequest:
    """Validate a clinician's request and return it, pending.

    The department must be one that may hold a consent (model.may_receive, the rule a consent's
    grantee obeys): else NotPermitted. WAITING is the department's requests to this patient
    still marked pending; those still pending at NOW count against the duplicate rule and the
    bound (Duplicate, TooMany).
    """
    if not model.may_receive(departments.get(department)):
        raise NotPermitted(department)
    if not isinstance(patient, str) or not patient.strip():
        raise InvalidConsent("patient", "a patient id is required", None)
    within("patient", patient, ID_MAX)
    purposes, classes = model.known_codes(purposes, classes)  # the codes any consent may name
    if len(purposes) != 1:
        raise InvalidConsent("purposes", "name exactly one purpose", None)
    days, end = _period(days, end, now)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidConsent("reason", "a written reason is required", None)
    within("reason", reason.strip(), REASON_MAX)
    if exchange_request is not None:
        if not isinstance(exchange_request, str) or not exchange_request:
            raise InvalidConsent("exchange_request", "must be the id of an exchange request", None)
        within("exchange_request", exchange_request, ID_MAX)
    request = SharingRequest(str(uuid.uuid4()), patient, department, person, classes, purposes, days, end,
                             reason.strip(), exchange_request, now)
    live = [r for r in waiting if r.department == department and r.patient == patient
            and r.status_at(now, departments) == PENDING]
    same = next((r for r in live if r.same_key == request.same_key), None)
    if same is not None:
        raise Duplicate(same.id)
    if len(live) >= MAX_PENDING:
        raise TooMany(department)
    request.events.append("requested")
    return request


def _period(days, end: datetime | None, now: datetime) -> tuple[int | None, datetime | None]:
    """Exactly one of DAYS (1 to MAX_DAYS) or END (after NOW, at most MAX_DAYS away)."""
    if (days is None) == (end is None):
        raise InvalidConsent("period", "give either a number of days or an end date", None)
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise InvalidConsent("period.days", "must be a whole number from 1 to 366", None)
        return days, None
    end = utc(end)
    if end <= now:
        raise InvalidConsent("period.end", "the end is in the past", None)
    if end > utc(now) + timedelta(days=MAX_DAYS):
        raise InvalidConsent("period.end", "must be within a year", None)
    return None, end


def consent_for(request: SharingRequest, by: Party, now: datetime, language: str, render_text, *,
                departments: Departments) -> model.Consent:
    """The consent an approval at NOW grants: the request's department, kinds of record, purpose
    and period, by the one rule every consent obeys (model.grant). BY is who answers."""
    start, end = request.period(now)
    return model.grant(request.patient, Party("department", request.department), list(request.purposes),
                       list(request.classes), start, end, by, now, language, render_text,
                       departments=departments)
