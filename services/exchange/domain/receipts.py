"""Revocation receipts: who is told when a consent ends, what the notice says, and how a webhook
delivery is retried. Pure code: no Flask, SQL, Kafka or HTTP.

When a patient's consent is revoked or expires, every department that received records under it
(the ledger's releases on that consent) gets one notice naming the consent and those releases.
The patient gets a receipt naming each department told and when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: The consent events that end a consent -> the kind of notice they make.
ENDED = {"phr.consent.revoked": "consent-revoked", "phr.consent.expired": "consent-expired"}
#: The ending event -> the patient's receipt (a notification kind: entrypoints/wording.py NOTICES).
RECEIPTS = {"phr.consent.revoked": "receipt-revoked", "phr.consent.expired": "receipt-expired"}

#: A webhook delivery's states.
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
#: Tries before a delivery is given up (FAILED; the notice stays in the inbox): with the delays
#: below, about 17 minutes of a receiver being away.
MAX_ATTEMPTS = 10
FIRST_DELAY, LONGEST_DELAY = timedelta(seconds=1), timedelta(minutes=5)
#: The media type of the webhook's body: a JWS in compact serialization (RFC 7515 section 7.1).
MEDIA_TYPE = "application/jose"
#: The JWS header's typ: what the payload is, so a receiver never takes it for a token.
JWS_TYPE = "phr-consent-ended+json"


@dataclass(frozen=True)
class Notice:
    """One department told that a consent it received records under has ended."""

    id: str
    department: str
    patient: str
    kind: str  # consent-revoked | consent-expired
    consent_id: str
    consent_version: int | None
    ended_at: datetime
    releases: list[dict]  # [{request_id, ledger_seq, released_at, resource_types, resource_count}]
    created_at: datetime


def releases_by_department(entries: list[dict], consent_id: str) -> dict[str, list[dict]]:
    """The releases made on CONSENT_ID among ledger ENTRIES, by receiving department, in
    sequence order (releases under an emergency claim rest on no consent and are left out)."""
    found: dict[str, list[dict]] = {}
    for e in sorted(entries, key=lambda e: e["seq"]):
        if e.get("basis", "consent") == "consent" and e.get("consent_id") == consent_id:
            found.setdefault(e["recipient"], []).append(
                {"request_id": e["request_id"], "ledger_seq": e["seq"], "released_at": e["released_at"],
                 "resource_types": list(dict.fromkeys(e.get("resource_types") or [])),
                 "resource_count": int(e.get("resource_count") or 0)})
    return found


def payload(notice: Notice, issuer: str, signed_at: datetime) -> dict:
    """What the webhook's JWS says: which consent ended, how and when, and the releases it
    covered (ids, not records). ISSUER names the exchange service; jti is the notice's id, so a
    receiver that gets a retry it already stored can tell."""
    return {"iss": issuer, "jti": notice.id, "iat": int(signed_at.timestamp()),
            "type": notice.kind, "department": notice.department, "patient": notice.patient,
            "consent": {"id": notice.consent_id, "version": notice.consent_version,
                        "ended_at": notice.ended_at.isoformat()},
            "releases": notice.releases}


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after ATTEMPTS failed tries: 1 s, 2 s, 4 s, ... at most 5 minutes."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), LONGEST_DELAY)


def after_attempt(attempts: int, delivered: bool) -> str:
    """A delivery's state after its ATTEMPTS-th try."""
    if delivered:
        return DELIVERED
    return FAILED if attempts >= MAX_ATTEMPTS else PENDING
