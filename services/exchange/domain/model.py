"""Exchange requests: states, steps, the reasons a request ends without a release, and the one
rule that lets prepared records go out (may_release). Pure code: no Flask, SQL or Kafka."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING, FULFILLED, DENIED, FAILED = "pending", "fulfilled", "denied", "failed"
STATUSES = (PENDING, FULFILLED, DENIED, FAILED)

# What a pending request waits for: a decision, the records' reply, the release decision.
DECIDE, FETCH, RELEASE, DONE = "decide", "fetch", "release", "done"

# Outcome codes (stable, never translated) and the final status each leads to.
OUTCOMES = {
    "released": FULFILLED,
    "no-consent": DENIED,
    "consent-withdrawn": DENIED,
    "consent-narrowed": DENIED,
    "consent-unavailable": FAILED,
    "records-unavailable": FAILED,
    "refused-by-consent": FAILED,
    "department-disabled": DENIED,
}
#: The outcome of a request whose department the directory no longer holds as active.
DEPARTMENT_DISABLED = "department-disabled"


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ATTEMPTS failed ones (0.5 s doubling, at most 10 s)."""
    return min(0.5 * 2 ** max(attempts - 1, 0), 10.0)


def narrowed(before: list[str], now: list[str]) -> bool:
    """Tell whether a fresh decision asks to redact a label the records were not redacted for."""
    return not set(now) <= set(before)


def redact_labels(obligations: list[dict]) -> list[str]:
    """Return the sensitivity labels a decision's obligations say to leave out."""
    labels: set[str] = set()
    for o in obligations or []:
        if o.get("type") == "redact":
            labels.update(str(label) for label in o.get("labels") or [])
    return sorted(labels)


def must_notify(obligations: list[dict]) -> bool:
    return any(o.get("type") == "notify" for o in obligations or [])


@dataclass(frozen=True)
class Release:
    """What a fresh decision says about records prepared earlier: they may go out (true), or
    not, with the outcome code that says why (``refusal``)."""

    refusal: str | None = None

    def __bool__(self) -> bool:
        return self.refusal is None


def may_release(decision: dict, redacted_for: list[str]) -> Release:
    """Judge a fresh consent DECISION on records prepared with REDACTED_FOR's labels left out.

    A deny is "consent-withdrawn"; a permit that now asks to leave out a label the prepared
    records still hold is "consent-narrowed" (they were made for a wider consent). The worker
    asks this right before the release, the download view again before each download, so the
    two cannot answer differently.
    """
    if decision.get("decision") != "permit":
        return Release("consent-withdrawn")
    if narrowed(redacted_for, redact_labels(decision.get("obligations") or [])):
        return Release("consent-narrowed")
    return Release()


def directory_refusal(req: "ExchangeRequest", requester_active: bool) -> str | None:
    """Why REQ must end now, given whether the directory holds its requester as active.

    A pending request of a department that is not active (disabled since it asked, or never
    registered) is denied: nothing may be released to it. The worker asks this when a
    department's entry changes, and again before each decision and each release, so a request
    that slipped in while the department was being disabled ends too. None: it may go on.
    """
    return DEPARTMENT_DISABLED if req.status == PENDING and not requester_active else None


@dataclass(frozen=True)
class ExchangeRequest:
    """A department's request for a patient's records, as stored, and how far it has come."""

    id: str
    patient: str
    requester: str
    purpose: str
    resource_types: list[str]
    reason: str | None
    status: str
    step: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    redact_labels: list[str]
    obligations: list[dict]
    outcome: str | None = None  # a code of OUTCOMES once done
    consent_id: str | None = None
    consent_version: int | None = None
    basis: str | None = None  # consent | break-glass
    break_glass_id: str | None = None
    bundle_ref: str | None = None  # records' claim check, once it replied
    resource_count: int | None = None
    redacted_count: int | None = None
    ledger_seq: int | None = None
    requested_by: str | None = None  # the member of staff who asked (sub), if a person did
    requested_by_user: str | None = None  # their fhirUser (Practitioner/<id>)
    traceparent: str | None = None  # the asking HTTP request's trace (W3C), which retries continue


@dataclass(frozen=True)
class Notification:
    """One thing the patient is told: a KIND of sentence and the PARAMS it needs."""

    id: str
    patient: str
    kind: str
    params: dict
    created_at: datetime


@dataclass(frozen=True)
class IndexedPatient:
    """Who holds a patient's records here, and how many of each type (from records' imports)."""

    patient_id: str
    custodian: str
    resource_count: int
    resource_types: dict[str, int]
    last_event_id: str
    updated_at: datetime
