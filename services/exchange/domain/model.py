"""Exchange requests: states, steps and the reasons a request ends without a release."""
from __future__ import annotations

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
}


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
