"""How a notice reaches a person outside the app: their choice per topic, the rules on it, the
verification of an address, and when to try a delivery again.

Every notice always stays in the in-app list (GET /patient/v1/notifications); a choice only adds
an email or a text message. A person is the patient, or a caregiver acting for them (the token's
``act.sub``), each with their own addresses and choices for that patient.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

IN_APP, EMAIL, SMS = "in-app", "email", "sms"
CHANNELS = (IN_APP, EMAIL, SMS)
OUTSIDE = (EMAIL, SMS)  # the channels that need a verified address

#: The topics a person chooses for, and the kinds of notice (services/exchange/service_layer/
#: flow.py add_notification callers) each holds. A kind not listed falls under "account".
TOPICS = {
    "record-seen": ("disclosure",),
    "emergency": ("break-glass", "break-glass-justified", "break-glass-not-justified"),
    "sharing": ("consent-granted", "consent-revoked", "consent-expired", "sharing-requested",
                "sharing-approved", "sharing-declined", "department-disabled", "receipt-revoked",
                "receipt-expired"),
    "account": ("amendment-accepted", "amendment-rejected", "amendment-completed", "report-closed"),
}
#: Topics that can never be switched off: they are what keeps emergency access and releases
#: honest. Their notices stay in the app whatever is chosen, and no choice can be "none".
PROTECTED = ("record-seen", "emergency")
#: What a person gets when they chose nothing: the in-app list only.
DEFAULT_CHOICE = IN_APP

#: Delivery states.
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

CODE_DIGITS, CODE_MINUTES, CODE_TRIES = 6, 15, 5
CODE_GAP_SECONDS = 60  # one code per address and person a minute at most: no one is flooded with codes
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164


def topic_of(kind: str) -> str:
    """The topic a kind of notice falls under."""
    for topic, kinds in TOPICS.items():
        if kind in kinds:
            return topic
    return "account"


def valid_choice(topic: str, channel: str) -> bool:
    """Whether CHANNEL may be chosen for TOPIC (every topic keeps the in-app list)."""
    return topic in TOPICS and channel in CHANNELS


def valid_address(channel: str, address: str) -> bool:
    """Whether ADDRESS looks like an address of CHANNEL (an email address; a phone in E.164)."""
    if channel == EMAIL:
        return len(address) <= 254 and bool(_EMAIL.match(address))
    return channel == SMS and bool(_PHONE.match(address))


def normalise(channel: str, address: str) -> str:
    """The address as kept: trimmed; an email's domain in lower case; a phone without spaces."""
    address = address.strip()
    if channel == EMAIL and "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    return re.sub(r"[\s().-]", "", address)


def new_code() -> str:
    """A fresh verification code of CODE_DIGITS digits."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(contact_id: str, code: str) -> str:
    """What is kept of CODE: its hash, salted with the address's id."""
    return hashlib.sha256(f"{contact_id}:{code.strip()}".encode()).hexdigest()


@dataclass
class Contact:
    """A person's address for one channel, and whether they proved it is theirs."""

    id: str
    patient: str
    person: str
    channel: str
    address: str
    language: str
    verified_at: datetime | None
    code_hash: str | None
    code_expires_at: datetime | None
    code_tries: int

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def code_sent_lately(self, now: datetime) -> bool:
        """Whether a code went to this address less than CODE_GAP_SECONDS ago."""
        if self.code_expires_at is None:
            return False
        sent = self.code_expires_at - timedelta(minutes=CODE_MINUTES)
        return now - sent < timedelta(seconds=CODE_GAP_SECONDS)

    def code_matches(self, code: str, now: datetime) -> bool:
        """Whether CODE is this address's live code (not expired, tries left)."""
        if self.code_hash is None or self.code_expires_at is None or self.code_tries >= CODE_TRIES:
            return False
        if now >= self.code_expires_at:
            return False
        return hmac.compare_digest(self.code_hash, code_hash(self.id, code))


@dataclass(frozen=True)
class Backoff:
    """When to try a delivery again: FIRST seconds after the first failure, doubling up to
    LONGEST; after ATTEMPTS tries in all the delivery is dead (and dead-lettered)."""

    first: float = 30.0
    longest: float = 900.0
    attempts: int = 12

    def delay(self, failed: int) -> timedelta:
        return timedelta(seconds=min(self.first * 2 ** max(failed - 1, 0), self.longest))

    def gives_up(self, failed: int) -> bool:
        return failed >= self.attempts
