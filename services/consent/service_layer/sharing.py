"""Use cases of sharing requests: a department asks, the patient (or a caregiver) answers.

An approval grants the consent by the rule every consent obeys (model.grant, through
domain.sharing.consent_for) and stores it as every consent is stored (handlers.record_grant),
in the same transaction as the answer and both events.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from services.common.envelope import new_event
from services.consent.domain import model, sharing
from services.consent.domain.model import Consent, Departments, Party
from services.consent.domain.sharing import Person, SharingRequest
from services.consent.service_layer.handlers import SOURCE, TOPIC, record_grant

#: How far back the patient's list reaches: every request still waiting, and recent answers.
PATIENT_LIST_DAYS = 90


@dataclass
class AskToShare:
    """Command: a clinician of DEPARTMENT asks PATIENT to share CLASSES for PURPOSES."""

    patient: object
    department: str
    person: Person
    classes: object
    purposes: object
    days: object
    end: datetime | None
    reason: object
    exchange_request: object = None


class NotFound(Exception):
    """No request of this patient (or of this department) has that id."""


class TextChanged(Exception):
    """The consent text the patient read is not the one an approval now would grant."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def period_data(r: SharingRequest) -> dict:
    return {"days": r.days} if r.days is not None else {"end": _iso(r.end)}


def _requested(r: SharingRequest) -> dict:
    return new_event("phr.consent.sharing-requested", SOURCE, r.patient, {
        "request_id": r.id, "patient": r.patient, "department": r.department,
        "requested_by": r.requested_by.as_dict(), "classes": list(r.classes), "purposes": list(r.purposes),
        "period": period_data(r), "reason": r.reason, "exchange_request": r.exchange_request,
        "created_at": _iso(r.created_at)})


def _answered(r: SharingRequest) -> dict:
    return new_event("phr.consent.sharing-answered", SOURCE, r.patient, {
        "request_id": r.id, "patient": r.patient, "department": r.department, "answer": r.status,
        "consent_id": r.consent_id, "answered_at": _iso(r.answered_at), "answered_by": r.answered_by.as_dict()})


def ask(cmd: AskToShare, uow, now: datetime, departments: Departments) -> SharingRequest:
    """Store a pending request and announce it; refuse a duplicate or one too many (domain.sharing)."""
    with uow:
        if isinstance(cmd.patient, str):
            uow.sharing.close_expired(cmd.patient, cmd.department, now)
            waiting = uow.sharing.waiting(cmd.patient, cmd.department)
        else:
            waiting = []
        request = sharing.ask(cmd.patient, cmd.department, cmd.person, cmd.classes, cmd.purposes, cmd.days,
                              cmd.end, cmd.reason, cmd.exchange_request, now, waiting,
                              departments=departments)
        uow.sharing.add(request)
        uow.publish(TOPIC, _requested(request))
    return request


def for_department(uow, department: str, status: str | None, now: datetime, limit: int,
                   offset: int) -> tuple[list[SharingRequest], bool]:
    """A page of DEPARTMENT's requests (LIMIT from OFFSET) and whether more follow."""
    with uow:
        found = uow.sharing.for_department(department, status, now, limit + 1, offset)
    return found[:limit], len(found) > limit


def department_request(uow, department: str, request_id: str) -> SharingRequest:
    """One of DEPARTMENT's requests; another department's is not found."""
    with uow:
        request = uow.sharing.get(request_id)
    if request is None or request.department != department:
        raise NotFound(request_id)
    return request


def for_patient(uow, patient: str, now: datetime) -> list[SharingRequest]:
    """PATIENT's requests of the last PATIENT_LIST_DAYS, newest first."""
    with uow:
        return uow.sharing.for_patient(patient, now - timedelta(days=PATIENT_LIST_DAYS))


def patient_request(uow, patient: str, request_id: str) -> SharingRequest:
    """One of PATIENT's requests; another patient's is not found."""
    with uow:
        request = uow.sharing.get(request_id)
    if request is None or request.patient != patient:
        raise NotFound(request_id)
    return request


def preview(request: SharingRequest, now: datetime, language: str, render_text: Callable[[Consent], str],
            departments: Departments) -> Consent | None:
    """The consent an approval at NOW would grant, its text in LANGUAGE, or None when the request
    can no longer be approved."""
    if request.status_at(now, departments) != sharing.PENDING:
        return None
    return sharing.consent_for(request, Party("patient", request.patient), now, language, render_text,
                               departments=departments)


def approve(uow, patient: str, request_id: str, by: Party, now: datetime, language: str,
            render_text: Callable[[Consent], str], departments: Departments,
            text_sha256: str | None = None) -> tuple[SharingRequest, Consent]:
    """Grant the consent the request asks for, mark it approved with the consent's id, and
    announce both (phr.consent.granted, phr.consent.sharing-answered) in one transaction.

    TEXT_SHA256, when given, is the hash of the consent text the patient read: a different text
    now (another day, say) is refused (TextChanged) so the patient agrees to what they read."""
    with uow:
        request = _locked(uow, patient, request_id)
        consent = sharing.consent_for(request, by, now, language, render_text, departments=departments) \
            if request.status_at(now, departments) == sharing.PENDING else None
        if consent is not None and text_sha256 is not None and text_sha256 != consent.text_sha256:
            raise TextChanged(request_id)
        request.approve(consent.id if consent else "", by, now, departments)  # raises when not pending
        record_grant(uow, consent)
        _save(uow, request)
    return request, consent


def decline(uow, patient: str, request_id: str, by: Party, now: datetime,
            departments: Departments) -> SharingRequest:
    """Mark the request declined and announce it; no consent is made."""
    with uow:
        request = _locked(uow, patient, request_id)
        request.decline(by, now, departments)
        _save(uow, request)
    return request


def _locked(uow, patient: str, request_id: str) -> SharingRequest:
    request = uow.sharing.get(request_id, lock=True)
    if request is None or request.patient != patient:
        raise NotFound(request_id)
    return request


def _save(uow, request: SharingRequest) -> None:
    if not uow.sharing.save(request):
        raise sharing.AlreadyAnswered(request.id, sharing.APPROVED)  # answered under the lock: never expected
    uow.publish(TOPIC, _answered(request))


def department_changed(requests, entry) -> int:
    """A department's directory entry changed (the worker, in the change's transaction): when it
    may no longer hold a consent (disabled, say), its requests still waiting expire for good, so
    registering it again does not bring them back. REQUESTS is the sharing request repository
    on that transaction; return how many expired."""
    if model.may_receive(entry):
        return 0
    return requests.expire_department(entry.id)
