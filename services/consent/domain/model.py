"""Consents, break-the-glass grants and the decision rule (docs/architecture.md, "Consent rules"). No framework here."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

from contracts.limits import ID_MAX, REASON_MAX
from contracts import vocabulary as v

ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"
PERMIT, DENY = "permit", "deny"
BREAK_GLASS_MINUTES = 60  # the window of a claim that does not say
BREAK_GLASS_MAX_MINUTES = 240  # no claim is longer than four hours


def utc(value: datetime | None) -> datetime | None:
    """Return VALUE as an aware UTC datetime (databases may hand back naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Party:
    """Who a consent names or who acted: a department, the patient, or a proxy person."""

    kind: str  # "department" | "proxy" | "patient"
    id: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id}


class DepartmentEntry(Protocol):
    """What the rules read of a department's directory entry (services/common/directory.py)."""

    id: str
    kind: str
    active: bool
    may_claim_emergencies: bool

    @property
    def holds_patient_data(self) -> bool: ...


class Departments(Protocol):
    """The directory of departments the rules ask: the service's copy, or a list in a test.

    Which departments exist, and what each may do, is data kept from events, not code; the rules
    take it as an argument so they stay free of storage."""

    def get(self, department_id: str | None) -> DepartmentEntry | None: ...


def may_receive(entry: DepartmentEntry | None) -> bool:
    """Whether a department may hold a consent and have records released to it: registered,
    active, and of a kind that holds patient data (oversight sees reports only)."""
    return entry is not None and bool(entry.active) and bool(entry.holds_patient_data)


class InvalidConsent(ValueError):
    """A request names something the consent domain does not know; FIELD says which."""

    def __init__(self, field_name: str, message: str, value=None):
        super().__init__(message)
        self.field, self.value = field_name, value


class NotPermitted(Exception):
    """The department is known but the directory does not let it do this (not a client error:
    the request was well formed, the department lacks the right)."""


@dataclass
class Consent:
    """This patient lets GRANTEE receive CLASSES for PURPOSES during [start, end)."""

    id: str
    patient: str
    grantee: Party
    purposes: tuple[str, ...]
    classes: tuple[str, ...]
    start: datetime
    end: datetime | None
    created_by: Party
    created_at: datetime
    language: str
    text: str
    text_sha256: str
    notify: bool = False
    status: str = ACTIVE
    version: int = 1
    revoked_at: datetime | None = None
    revoked_by: Party | None = None
    expired_at: datetime | None = None
    events: list = field(default_factory=list, repr=False, compare=False)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if v.is_label(c))

    @property
    def resource_types(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if not v.is_label(c))

    def status_at(self, now: datetime) -> str:
        """Return the status as of NOW: an active consent past its end is expired already."""
        if self.status == ACTIVE and self.end is not None and utc(now) >= utc(self.end):
            return EXPIRED
        return self.status

    def in_force(self, now: datetime) -> bool:
        return self.status_at(now) == ACTIVE and utc(self.start) <= utc(now)

    def revoke(self, by: Party, now: datetime) -> bool:
        """Revoke an active consent; return False when there was nothing to do."""
        if self.status != ACTIVE:
            return False
        self.status, self.revoked_at, self.revoked_by = REVOKED, now, by
        self.version += 1
        self.events.append("revoked")
        return True

    def expire(self, now: datetime) -> bool:
        """Mark an active consent past its end as expired; return False otherwise."""
        if self.status_at(now) != EXPIRED or self.status != ACTIVE:
            return False
        self.status, self.expired_at = EXPIRED, now
        self.version += 1
        self.events.append("expired")
        return True


def within(field_name: str, value: str, limit: int) -> None:
    """Refuse a value longer than LIMIT (contracts.limits): it is stored and sent in an event,
    and an event too large for the broker helps no one. The value is not echoed back."""
    if len(value) > limit:
        raise InvalidConsent(field_name, f"must be at most {limit} characters", None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def grant(patient: str, grantee: Party, purposes, classes, start: datetime | None,
          end: datetime | None, created_by: Party, now: datetime, language: str,
          render_text, notify: bool = False, *, departments: Departments) -> Consent:
    """Validate the request and return a new active consent (RENDER_TEXT writes its wording).

    A department grantee must be in DEPARTMENTS, active, and hold patient data."""
    purposes = _unique(purposes, "purposes")
    classes = _unique(classes, "classes")
    within("grantee.id", grantee.id, ID_MAX)
    if grantee.kind == "department":
        _receiving_department(departments, grantee.id)
    purposes, classes = known_codes(purposes, classes)
    start = utc(start) or now
    end = utc(end)
    if end is not None and end <= start:
        raise InvalidConsent("period", "the end is not after the start", None)
    if end is not None and end <= now:
        raise InvalidConsent("period", "the end is in the past", None)
    consent = Consent(id=str(uuid.uuid4()), patient=patient, grantee=grantee,
                      purposes=purposes, classes=classes, start=start, end=end,
                      created_by=created_by, created_at=now, language=language,
                      text="", text_sha256="", notify=notify)
    text = render_text(consent)
    consent = replace(consent, text=text, text_sha256=sha256(text), events=["granted"])
    return consent


def _receiving_department(departments: Departments, department_id: str) -> None:
    """Refuse a consent to a department that cannot receive records (a client error, 422)."""
    entry = departments.get(department_id)
    if entry is None:
        raise InvalidConsent("grantee", "unknown department", department_id)
    if not entry.active:
        raise InvalidConsent("grantee", "the department is not active", department_id)
    if not entry.holds_patient_data:
        raise InvalidConsent("grantee", "not a department that can receive records", department_id)


def known_codes(purposes, classes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the PURPOSES and CLASSES a consent (or a request for one) names: non-empty lists of
    known codes, each once, in the order given."""
    purposes, classes = _unique(purposes, "purposes"), _unique(classes, "classes")
    for code in purposes:
        if code not in v.PURPOSES:
            raise InvalidConsent("purposes", "unknown purpose", code)
    for code in classes:
        if not v.known_class(code):
            raise InvalidConsent("classes", "unknown data class or label", code)
    return purposes, classes


def _unique(values, name: str) -> tuple[str, ...]:
    if not isinstance(values, (list, tuple)) or not values:
        raise InvalidConsent(name, "must be a non-empty list", values)
    if not all(isinstance(x, str) for x in values):
        raise InvalidConsent(name, "must be a list of codes", values)
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class SensitiveClaim:
    """A sensitive LABEL an emergency claim names, with its own written REASON."""

    label: str
    reason: str

    def as_dict(self) -> dict:
        return {"label": self.label, "reason": self.reason}


@dataclass
class BreakGlass:
    """An emergency claim: DEPARTMENT may treat PATIENT (ETREAT) until EXPIRES_AT, flagged.

    It releases the non-sensitive classes asked for; a sensitive label only when the claim
    names it (SENSITIVE), each with its own reason. Every other label stays redacted.
    """

    id: str
    patient: str
    department: str
    purpose: str
    reason: str
    created_at: datetime
    expires_at: datetime
    sensitive: tuple[SensitiveClaim, ...] = ()
    claimed_by: str | None = None       # the clinician (a staff token's sub), when a person claimed it
    claimed_by_user: str | None = None  # their fhirUser (Practitioner/<id>)

    def in_force(self, now: datetime) -> bool:
        return utc(self.created_at) <= utc(now) < utc(self.expires_at)

    @property
    def labels(self) -> tuple[str, ...]:
        """The sensitive labels the claim names (released under it)."""
        return tuple(s.label for s in self.sensitive)

    @property
    def redacted(self) -> list[str]:
        """The sensitive labels the claim does not name: never released under it."""
        return sorted(set(v.SENSITIVE_LABELS) - set(self.labels))

    def obligations(self) -> list[dict]:
        """Redact what the claim does not name (always said, even when nothing is left to
        redact); audit; tell the patient; queue a review, a priority one when the claim
        reaches into sensitive classes."""
        review = {"type": "review", "reason": "break-glass"}
        if self.sensitive:
            review.update(priority="high", labels=sorted(self.labels))
        return [{"type": "redact", "labels": self.redacted}, {"type": "audit"},
                {"type": "notify", "target": "patient"}, review]


def may_claim_emergencies(entry: DepartmentEntry | None) -> bool:
    """Whether a department may break the glass: active and allowed by its directory entry."""
    return may_receive(entry) and bool(entry.may_claim_emergencies)


def break_glass(patient: str, department: str, reason, now: datetime,
                minutes: int = BREAK_GLASS_MINUTES, sensitive=(), *, departments: Departments,
                claimed_by: str | None = None, claimed_by_user: str | None = None) -> BreakGlass:
    """Validate an emergency claim and return its time-limited grant.

    The department's right comes first (NotPermitted), whatever the rest of the claim says:
    its scope is not enough, its directory entry must let it claim emergencies."""
    if not may_claim_emergencies(departments.get(department)):
        raise NotPermitted(department)
    if not isinstance(patient, str) or not patient.strip():
        raise InvalidConsent("patient", "a patient id is required", patient)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidConsent("reason", "a written reason is required", reason)
    within("patient", patient, ID_MAX)
    within("reason", reason.strip(), REASON_MAX)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= BREAK_GLASS_MAX_MINUTES:
        raise InvalidConsent("minutes", "must be a whole number from 1 to 240", minutes)
    return BreakGlass(str(uuid.uuid4()), patient, department, v.EMERGENCY_PURPOSE,
                      reason.strip(), now, now + timedelta(minutes=minutes),
                      sensitive_claims(sensitive), claimed_by, claimed_by_user)


def sensitive_claims(items) -> tuple[SensitiveClaim, ...]:
    """Read ``[{"label": "SEX", "reason": "..."}]``: known labels, each once, each with a reason."""
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise InvalidConsent("sensitive", "must be a list of labels, each with a reason", None)
    found: dict[str, SensitiveClaim] = {}
    for item in items:
        if not isinstance(item, dict):
            raise InvalidConsent("sensitive", "must be a list of labels, each with a reason", None)
        label, why = item.get("label"), item.get("reason")
        if not isinstance(label, str) or not v.is_label(label):
            raise InvalidConsent("sensitive", "unknown sensitivity label",
                                 label if isinstance(label, str) else None)
        if label in found:
            raise InvalidConsent("sensitive", "a label is named twice", label)
        if not isinstance(why, str) or not why.strip():
            raise InvalidConsent("sensitive", "each label needs its own written reason", label)
        within("sensitive.reason", why.strip(), REASON_MAX)
        found[label] = SensitiveClaim(label, why.strip())
    return tuple(found.values())


class ClaimInForce(Exception):
    """Another claim by the same department for the same patient was stored first (a race)."""


@dataclass(frozen=True)
class Decision:
    """The answer to "may I?": permit or deny, what it rests on, and what the caller must do."""

    decision: str
    consent_id: str | None = None
    consent_version: int | None = None
    obligations: tuple[dict, ...] = ()
    break_glass_id: str | None = None
    #: How long after asking a caller may still start acting on this permit: a revoke of the
    #: consent it rests on returns only twice this long after it committed (handlers.settle_revocation).
    start_within_ms: int | None = None

    def as_dict(self) -> dict:
        body = {"decision": self.decision, "consent_id": self.consent_id,
                "consent_version": self.consent_version, "obligations": list(self.obligations)}
        if self.start_within_ms is not None:
            body["start_within_ms"] = self.start_within_ms
        if self.break_glass_id:
            body["break_glass_id"] = self.break_glass_id
            body["basis"] = "break-glass"
        elif self.decision == PERMIT:
            body["basis"] = "consent"
        return body


def validate_question(actor, purpose, classes, *, departments: Departments) -> tuple[str, tuple[str, ...]]:
    """Check a decision request's codes (unknown codes are a client error, not a deny).

    The actor must be a department DEPARTMENTS has registered; a disabled one is known, and is
    answered (deny) by decide."""
    if not isinstance(actor, str) or departments.get(actor) is None:
        raise InvalidConsent("actor", "unknown department", actor)
    if purpose not in v.PURPOSES:
        raise InvalidConsent("purpose", "unknown purpose", purpose)
    classes = _unique(classes, "classes")
    for code in classes:
        if not v.known_class(code):
            raise InvalidConsent("classes", "unknown data class or label", code)
    return purpose, classes


def decide(consents, grants, actor: str, purpose: str, classes, now: datetime, *,
           departments: Departments) -> Decision:
    """Deny by default; permit on a consent in force that covers the request (docs/architecture.md, "Consent rules").

    Only a department that may receive records now (active in DEPARTMENTS, holding patient
    data) is ever permitted: a disabled department's consents and claims permit nothing, and a
    claim permits only while its department may still claim emergencies.

    A consent covers the request when it names ACTOR, PURPOSE and every requested resource
    type. Every sensitive label the consent does not name comes back as a redact obligation,
    asked for or not, since the records released may carry it. An emergency grant in force
    for ACTOR permits ETREAT, flagged for notification and review, with every sensitive
    label the claim does not name redacted: breaking the glass never overrides a patient's
    withholding of a sensitive class unless the claim names it with a reason.
    """
    entry = departments.get(actor)
    if not may_receive(entry):
        return Decision(DENY)
    wanted_types = {c for c in classes if not v.is_label(c)}
    best: tuple | None = None
    for c in consents:
        if (c.grantee.kind != "department" or c.grantee.id != actor or purpose not in c.purposes
                or not c.in_force(now) or not wanted_types <= set(c.resource_types)):
            continue
        redact = sorted(set(v.SENSITIVE_LABELS) - set(c.labels))
        missing = len(set(classes) & set(redact))
        rank = (missing, len(redact), -utc(c.created_at).timestamp())
        if best is None or rank < best[0]:
            best = (rank, c, redact)
    if best is not None:
        _rank, c, redact = best
        obligations = ([{"type": "redact", "labels": redact}] if redact else []) + [{"type": "audit"}]
        if c.notify:
            obligations.append({"type": "notify", "target": "patient"})
        return Decision(PERMIT, c.id, c.version, tuple(obligations))
    if purpose == v.EMERGENCY_PURPOSE and entry.may_claim_emergencies:
        live = [g for g in grants if g.department == actor and g.in_force(now)]
        if live:
            g = max(live, key=lambda g: utc(g.expires_at))
            return Decision(PERMIT, None, None, tuple(g.obligations()), g.id)
    return Decision(DENY)
