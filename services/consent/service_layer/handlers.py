"""Use cases of the consent service: each opens a unit of work, changes state, records events."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from contracts.limits import ID_MAX
from services.common.envelope import new_event
from services.consent.domain import model
from services.consent.domain.model import BreakGlass, Consent, Decision, Departments, Party

SOURCE = "/services/consent"
TOPIC = "phr.consent.v1"


@dataclass
class GrantConsent:
    """Command: PATIENT (or a proxy acting for them) lets a grantee see some data."""

    patient: str
    grantee: Party
    purposes: list
    classes: list
    start: datetime | None
    end: datetime | None
    actor: Party
    language: str
    notify: bool = False


@dataclass
class RevokeConsent:
    """Command: withdraw a consent; it stops counting before the call returns."""

    patient: str
    consent_id: str
    actor: Party


@dataclass
class AskDecision:
    """Query: may ACTOR receive CLASSES of PATIENT's record for PURPOSE?"""

    patient: str
    actor: str
    purpose: str
    classes: list


@dataclass
class BreakTheGlass:
    """Command: a department claims an emergency for PATIENT, with a written REASON."""

    patient: str
    department: str
    reason: str
    minutes: int = model.BREAK_GLASS_MINUTES
    sensitive: list | None = None  # [{"label", "reason"}]: sensitive labels released, each with a reason
    claimed_by: str | None = None       # the clinician, when a person claims it (their token's sub)
    claimed_by_user: str | None = None  # and fhirUser


class NotFound(Exception):
    """No consent of this patient has that id (another patient's is not found either)."""


class NotYours(Exception):
    """A caller asked a decision about a department it is not."""


def actor_for(claims: dict, named, trusted_clients) -> str | None:
    """Return the department a decision question is about, for a caller with CLAIMS.

    A department asks only about itself (NAMED absent or its own ``dept``); otherwise a
    decision would tell it whether another department holds a consent. Only the exchange
    service's own client (one of TRUSTED_CLIENTS, with a token that carries no ``dept`` and
    no ``patient`` claim: the gateway puts ``dept`` in every department's token) asks on
    behalf of the department that requested an exchange.
    """
    dept = claims.get("dept")
    if named is None or named == dept:
        return dept
    if claims.get("client_id") in trusted_clients and dept is None and claims.get("patient") is None:
        return named
    raise NotYours(named)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _granted(c: Consent) -> dict:
    return new_event("phr.consent.granted", SOURCE, c.patient, {
        "consent_id": c.id, "patient": c.patient, "version": c.version,
        "grantee": c.grantee.as_dict(), "purposes": list(c.purposes), "classes": list(c.classes),
        "period": {"start": _iso(c.start), "end": _iso(c.end)}, "notify": c.notify,
        "created_by": c.created_by.as_dict(), "language": c.language,
        "text_sha256": c.text_sha256, "granted_at": _iso(c.created_at)})


def _revoked(c: Consent) -> dict:
    return new_event("phr.consent.revoked", SOURCE, c.patient, {
        "consent_id": c.id, "patient": c.patient, "version": c.version,
        "grantee": c.grantee.as_dict(), "revoked_by": c.revoked_by.as_dict(),
        "revoked_at": _iso(c.revoked_at)})


def _expired(c: Consent) -> dict:
    return new_event("phr.consent.expired", SOURCE, c.patient, {
        "consent_id": c.id, "patient": c.patient, "version": c.version,
        "grantee": c.grantee.as_dict(), "period_end": _iso(c.end), "expired_at": _iso(c.expired_at)})


def claimed_by(g: BreakGlass) -> dict | None:
    """The person who claimed G ({sub, fhirUser}), or None when the department's client did."""
    return {"sub": g.claimed_by, "fhirUser": g.claimed_by_user} if g.claimed_by else None


def _break_glass(g: BreakGlass) -> dict:
    return new_event("phr.consent.break-glass", SOURCE, g.patient, {
        "grant_id": g.id, "patient": g.patient, "department": g.department, "purpose": g.purpose,
        "reason": g.reason, "claimed_by": claimed_by(g), "granted_at": _iso(g.created_at),
        "expires_at": _iso(g.expires_at), "sensitive": [s.as_dict() for s in g.sensitive], "obligations": g.obligations()})


def grant_consent(cmd: GrantConsent, uow, now: datetime, render_text: Callable[[Consent], str],
                  departments: Departments) -> Consent:
    """Store a new active consent to a department of DEPARTMENTS that may receive records (or
    to a proxy), and announce it."""
    consent = model.grant(cmd.patient, cmd.grantee, cmd.purposes, cmd.classes, cmd.start, cmd.end,
                          cmd.actor, now, cmd.language, render_text, cmd.notify,
                          departments=departments)
    with uow:
        record_grant(uow, consent)
    return consent


def record_grant(uow, consent: Consent) -> None:
    """Store a new CONSENT and queue its phr.consent.granted, in UOW's open transaction: every
    consent, whether the patient wrote it or approved a department's request, is kept this way."""
    uow.consents.add(consent)
    uow.publish(TOPIC, _granted(consent))


def revoke_consent(cmd: RevokeConsent, uow, now: datetime) -> Consent:
    """Revoke the patient's consent (again is harmless); committed before this returns."""
    with uow:
        consent = uow.consents.get(cmd.consent_id, lock=True)
        if consent is None or consent.patient != cmd.patient:
            raise NotFound(cmd.consent_id)
        before = consent.version
        if consent.revoke(cmd.actor, now):
            if not uow.consents.save(consent, before):
                raise RuntimeError("consent changed under a row lock")  # never expected
            uow.publish(TOPIC, _revoked(consent))
    return consent


# Revocation against notifications already decided (exchange, service_layer/subscriptions.py).
#
# A permit is read from committed state, so a decision that *starts* after a revoke committed
# says deny. What remains is the moment between a permit's answer and the caller acting on it:
# a subscription delivery could start after the revoke returned on the strength of a permit
# read just before the revoke committed. That window is closed by time, without shared locks:
#
# - every permit says ``start_within_ms`` = SETTLE / 2: the caller may start acting on it only
#   within that long after it *sent* the question (its own monotonic clock);
# - revoking a consent to a department waits SETTLE after its commit before it answers.
#
# A permit was read before the revoke committed (else it would be a deny), and after the
# question was sent; so an action starts before question-sent + SETTLE/2 < commit + SETTLE/2,
# and the revoke returns after commit + SETTLE: no action starts after the revoke returned.
# Only durations are compared (no clock needs to agree with another), with half of SETTLE to
# spare for clocks that run at different rates. SETTLE = 0 turns it off: permits then carry
# start_within_ms 0, and a caller that needs the guarantee acts on none.

def with_start_window(decision: Decision, settle_ms: int) -> Decision:
    """DECISION with its start window when it is a permit (settle_ms / 2, see above)."""
    if decision.decision != model.PERMIT:
        return decision
    return replace(decision, start_within_ms=max(int(settle_ms), 0) // 2)


def settle_revocation(consent: Consent, settle_ms: int, sleep: Callable[[float], None]) -> None:
    """Wait SETTLE_MS after a revoke of CONSENT committed, before its answer (see above). Only a
    consent to a department: a proxy's permits are not acted on later. A repeated revoke waits
    too: it answers after the first one's commit, and must not answer inside its window."""
    if consent.grantee.kind == "department" and settle_ms > 0:
        sleep(settle_ms / 1000)


def list_consents(uow, patient: str) -> list[Consent]:
    with uow:
        return uow.consents.for_patient(patient)


def get_consent(uow, patient: str, consent_id: str) -> Consent:
    with uow:
        consent = uow.consents.get(consent_id)
    if consent is None or consent.patient != patient:
        raise NotFound(consent_id)
    return consent


def consents_for_department(uow, patient: str, department: str) -> list[Consent]:
    with uow:
        return uow.consents.for_department(patient, department)


def decide(q: AskDecision, uow, now: datetime, departments: Departments) -> Decision:
    """Answer from committed state read now: nothing is cached between calls. DEPARTMENTS is
    the service's copy of the directory, reloaded when a second old (services/common/directory.py)."""
    purpose, classes = model.validate_question(q.actor, q.purpose, q.classes, departments=departments)
    if not isinstance(q.patient, str) or not q.patient.strip():
        raise model.InvalidConsent("patient", "a patient id is required", q.patient)
    model.within("patient", q.patient, ID_MAX)
    with uow:
        consents = uow.consents.active_for(q.patient, q.actor)
        grants = uow.grants.live_for(q.patient, q.actor, now) if purpose == "ETREAT" else []
    return model.decide(consents, grants, q.actor, purpose, classes, now, departments=departments)


def may_claim_emergencies(department: str, departments: Departments) -> bool:
    """Whether DEPARTMENT may break the glass now (its entry in DEPARTMENTS, the directory)."""
    return model.may_claim_emergencies(departments.get(department))


def break_the_glass(cmd: BreakTheGlass, uow, now: datetime, departments: Departments) -> tuple[BreakGlass, bool]:
    """Record an emergency grant and queue the patient's notice and the review.

    Return (grant, True) for a new claim; while the same claimant's claim for this patient is
    in force, return (that claim, False) and record nothing: one notice, one review per claim.
    The claimant is the person (a staff token's sub) or, with none, the department's own
    client: a second clinician claiming while a colleague's claim is in force makes a claim of
    their own, so the audit, the patient's notice and the review name them too. A department
    DEPARTMENTS does not let claim emergencies is refused (model.NotPermitted).
    """
    grant = model.break_glass(cmd.patient, cmd.department, cmd.reason, now, cmd.minutes, cmd.sensitive,
                              departments=departments, claimed_by=cmd.claimed_by,
                              claimed_by_user=cmd.claimed_by_user)
    try:
        with uow:
            existing = _claim_in_force(uow, grant, now)
            if existing:
                return existing, False
            uow.grants.close_ended(grant.patient, grant.department, now)
            uow.grants.add(grant)
            uow.publish(TOPIC, _break_glass(grant))
    except model.ClaimInForce:  # a claim made at the same moment was stored first: answer with it
        with uow:
            existing = uow.grants.open_claim(grant.patient, grant.department, grant.claimed_by)
        if existing is None:
            raise
        return existing, False
    return grant, True


def _claim_in_force(uow, grant: BreakGlass, now: datetime) -> BreakGlass | None:
    live = [g for g in uow.grants.live_for(grant.patient, grant.department, now)
            if g.claimed_by == grant.claimed_by]
    return max(live, key=lambda g: model.utc(g.expires_at)) if live else None


def expire_due(uow, now: datetime) -> int:
    """Mark every active consent past its end as expired and announce each; return how many."""
    count = 0
    with uow:
        for consent in uow.consents.active_with_end():
            before = consent.version
            if consent.expire(now) and uow.consents.save(consent, before):
                uow.publish(TOPIC, _expired(consent))
                count += 1
    return count
