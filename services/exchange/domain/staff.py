"""What a department's staff are shown: the next step after each outcome of an exchange request,
and the break-the-glass review queue (its order, when an item is overdue, how a review is
recorded). Pure code: no Flask, SQL or Kafka."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.exchange.domain.model import OUTCOMES, PENDING

# -- the next step after an exchange request ---------------------------------------------------
#: Stable codes of what the person who asked can do next (never translated).
WAIT, ASK_PATIENT, ASK_AGAIN, TRY_AGAIN, NONE = "wait", "ask-patient-to-share", "ask-again", "try-again", "none"

#: Outcome code -> next step: a refusal the patient's choices caused is answered by asking the
#: patient; a request that failed because a service was away by trying again; a release, or a
#: department closed in the directory, leaves nothing to do here.
NEXT_STEPS = {
    PENDING: WAIT,
    "released": NONE,
    "no-consent": ASK_PATIENT,
    "consent-withdrawn": ASK_PATIENT,
    "consent-narrowed": ASK_AGAIN,
    "consent-unavailable": TRY_AGAIN,
    "records-unavailable": TRY_AGAIN,
    "refused-by-consent": TRY_AGAIN,
    "department-disabled": NONE,
}
assert set(NEXT_STEPS) == {PENDING, *OUTCOMES}, "every outcome has a next step"


def next_step(outcome: str | None) -> str:
    """The next step's code after OUTCOME (None: still pending)."""
    return NEXT_STEPS.get(outcome or PENDING, WAIT)


# -- break-the-glass reviews -------------------------------------------------------------------
#: A claim not reviewed this long after it was made is overdue.
REVIEW_DUE = timedelta(hours=72)
OPEN, REVIEWED = "open", "reviewed"
JUSTIFIED, NOT_JUSTIFIED = "justified", "not-justified"
REVIEW_OUTCOMES = (JUSTIFIED, NOT_JUSTIFIED)
#: The next step's code on a review item (never translated).
REVIEW, REVIEW_NOW, REVIEW_DONE = "review", "review-now", "none"


class AlreadyReviewed(Exception):
    """The claim was reviewed before: a review is recorded once."""


class NoteRequired(ValueError):
    """A claim found not justified needs a note in plain words saying why."""


@dataclass(frozen=True)
class Review:
    """One break-the-glass claim waiting for (or given) a privacy officer's review."""

    claim_id: str
    patient: str
    department: str  # the department that claimed the emergency
    claimed_at: datetime
    reason: str
    sensitive: list[dict]  # [{label, reason}] the claim released, each with its own reason
    expires_at: datetime | None = None
    claimed_by: str | None = None  # the person, when the claim's event names one (sub)
    claimed_by_user: str | None = None  # their fhirUser
    outcome: str | None = None
    note: str | None = None
    reviewer: str | None = None
    reviewer_user: str | None = None
    reviewed_at: datetime | None = None

    @property
    def priority(self) -> bool:
        """A claim that named a sensitive class is reviewed first."""
        return bool(self.sensitive)

    @property
    def status(self) -> str:
        return REVIEWED if self.reviewed_at is not None else OPEN

    @property
    def due_at(self) -> datetime:
        return self.claimed_at + REVIEW_DUE

    def overdue(self, now: datetime) -> bool:
        """Not reviewed REVIEW_DUE after the claim (NOW is the service's clock)."""
        return self.reviewed_at is None and now >= self.due_at

    def next_step(self, now: datetime) -> str:
        """What a privacy officer does next: review it, review it now (overdue), or nothing."""
        if self.reviewed_at is not None:
            return REVIEW_DONE
        return REVIEW_NOW if self.overdue(now) else REVIEW

    def waited(self, now: datetime) -> timedelta:
        """How long the claim has waited for its review (until the review, once there is one)."""
        return max((self.reviewed_at or now) - self.claimed_at, timedelta(0))

    def review(self, outcome: str, note: str | None, reviewer: str, reviewer_user: str | None,
               now: datetime) -> "Review":
        """Return this claim reviewed; raise AlreadyReviewed or NoteRequired."""
        if self.reviewed_at is not None:
            raise AlreadyReviewed(self.claim_id)
        if outcome not in REVIEW_OUTCOMES:
            raise ValueError(outcome)
        note = (note or "").strip() or None
        if outcome == NOT_JUSTIFIED and note is None:
            raise NoteRequired(self.claim_id)
        return dataclasses.replace(self, outcome=outcome, note=note, reviewer=reviewer,
                                   reviewer_user=reviewer_user, reviewed_at=now)


def queue_key(item: Review) -> tuple:
    """The review queue's order: claims that named a sensitive class first, then the oldest."""
    return (not item.priority, item.claimed_at, item.claim_id)
