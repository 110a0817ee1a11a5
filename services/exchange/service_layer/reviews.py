"""The break-the-glass review queue: each emergency claim (phr.consent.break-glass) is queued for
the privacy officers of the patient's custodian department, who record once whether it was
justified; the patient is told the outcome (docs/architecture.md, "Consent rules")."""
from __future__ import annotations

from datetime import datetime

from services.common.envelope import new_event
from services.exchange.domain import staff as rules
from services.exchange.domain.staff import Review
from services.exchange.service_layer.flow import SOURCE, TOPIC, add_notification
from services.exchange.service_layer.unit_of_work import on


class NotFound(Exception):
    """No such claim on a patient of the reviewer's department."""


def _time(value) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def queue_claim(work, event: dict) -> None:
    """Queue the claim of a phr.consent.break-glass EVENT for review (once per claim)."""
    data = event["data"]
    person = data.get("claimed_by") or {}  # the person, when the claim's event names one
    on(work).reviews.add_once(Review(
        claim_id=str(data["grant_id"]), patient=str(data["patient"]), department=str(data["department"]),
        claimed_at=_time(data["granted_at"]), expires_at=_time(data.get("expires_at")),
        reason=str(data["reason"]), sensitive=[dict(s) for s in data.get("sensitive") or []],
        claimed_by=person.get("sub"), claimed_by_user=person.get("fhirUser")))


def queue(uow, custodian: str, status: str | None, limit: int, offset: int
          ) -> tuple[list[tuple[Review, list[dict]]], bool]:
    """One page of CUSTODIAN's review items, each with the ledger entries released under its
    claim (read now), and whether more follow."""
    with uow:
        items, more = uow.reviews.queue(custodian, status, limit, offset)
        return [(item, uow.ledger.under_break_glass(item.patient, item.claim_id)) for item in items], more


def item(uow, claim_id: str, custodian: str) -> tuple[Review, list[dict]]:
    """CUSTODIAN's review item CLAIM_ID with what was released under it; raise NotFound."""
    with uow:
        found = uow.reviews.get(claim_id, custodian)
        if found is None:
            raise NotFound(claim_id)
        return found, uow.ledger.under_break_glass(found.patient, found.claim_id)


def review(uow, claim_id: str, custodian: str, outcome: str, note: str | None, reviewer: dict,
           now: datetime) -> Review:
    """Record REVIEWER's ({sub, fhirUser}) review of the claim, once, with its event and the
    patient's notification, in one transaction; raise NotFound, rules.AlreadyReviewed or
    rules.NoteRequired (nothing is written then)."""
    with uow:
        found = uow.reviews.get(claim_id, custodian, lock=True)
        if found is None:
            raise NotFound(claim_id)
        done = found.review(outcome, note, reviewer["sub"], reviewer.get("fhirUser"), now)
        if not uow.reviews.record(done):
            raise rules.AlreadyReviewed(claim_id)
        uow.publish(TOPIC, new_event("phr.exchange.break-glass-reviewed", SOURCE, done.patient, {
            "claim_id": done.claim_id, "patient": done.patient, "department": done.department,
            "custodian": custodian, "outcome": done.outcome, "note": done.note,
            "reviewed_by": {"sub": done.reviewer, "fhirUser": done.reviewer_user},
            "reviewed_at": now.isoformat(), "claimed_at": done.claimed_at.isoformat(),
            "sensitive_labels": [str(s["label"]) for s in done.sensitive]}))
        add_notification(uow, done.patient, f"break-glass-{done.outcome}", f"review:{done.claim_id}", now,
                         {"department": done.department, "grant_id": done.claim_id})
    return done
