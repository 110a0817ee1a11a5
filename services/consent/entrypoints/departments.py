"""Department-facing consent API: decisions and break-the-glass (docs/architecture.md, "Consent rules")."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from services.common.auth import require_scope
from services.common.problem import Problem
from services.consent.domain.model import InvalidConsent, NotPermitted
from services.consent.entrypoints import wording
from services.consent.entrypoints.common import from_domain, invalid, json_body, locale, service
from services.consent.service_layer import handlers


blp = Blueprint("departments", __name__)


def register(app: Flask) -> None:
    """Add the department-facing routes to APP."""
    app.register_blueprint(blp)


@blp.post("/consent/v1/decisions")
def decide():
    """Answer "may ACTOR have CLASSES of PATIENT for PURPOSE?" from committed state, now."""
    claims = require_scope("system", "Consent", "r")
    body = json_body()
    svc = service()
    try:
        actor = handlers.actor_for(claims, body.get("actor"), svc.settings.decision_clients)
    except handlers.NotYours:
        # The same answer whatever the patient, the other department or their consents.
        raise Problem(403, "Forbidden", wording.t(wording.OWN_DECISIONS_ONLY, locale())) from None
    q = handlers.AskDecision(body.get("patient"), actor, body.get("purpose"), body.get("classes"))
    try:
        decision = svc.decide(q)
    except InvalidConsent as exc:
        raise from_domain(exc) from None
    return jsonify(decision.as_dict())


@blp.post("/consent/v1/break-glass")
def break_glass():
    """Grant the calling department a time-limited emergency permit, flagged for review.

    It needs system/BreakGlass.c, which no wildcard scope covers (services.common.smart), and
    a department whose directory entry lets it claim emergencies: one that may not is refused
    before its claim is read. A new claim is 201; while the department's own claim for this
    patient is in force, a second one is 200 with the claim in force, and nothing new is
    recorded.
    """
    claims = require_scope("system", "BreakGlass", "c")
    return _claim(claims.get("dept"), None)


@blp.post("/staff/v1/break-glass")
def staff_break_glass():
    """The same claim by a clinician of the department (user/BreakGlass.c, which the gateway
    gives only to clinicians of a department that may claim emergencies): the claim, its
    event and so its review name the person (the token's sub and fhirUser). The rule of one
    claim in force is per person: a colleague's claim in force does not stand for theirs."""
    claims = require_scope("user", "BreakGlass", "c")
    if not claims.get("sub"):
        raise Problem(403, "Forbidden", wording.t(wording.DEPARTMENT_ONLY, locale()))
    fhir_user = claims.get("fhirUser")
    return _claim(claims.get("dept"), (str(claims["sub"]), str(fhir_user) if fhir_user else None))


def _claim(department: str | None, person: tuple[str, str | None] | None):
    """Record DEPARTMENT's claim from the body (by PERSON, (sub, fhirUser), when one made it)."""
    if not department:
        raise Problem(403, "Forbidden", wording.t(wording.DEPARTMENT_ONLY, locale()))
    svc = service()
    if not handlers.may_claim_emergencies(department, svc.directory):
        raise _no_emergency_claims()
    body = json_body()
    minutes = body.get("minutes", handlers.model.BREAK_GLASS_MINUTES)
    purpose = body.get("purpose", "ETREAT")
    if purpose != "ETREAT":
        raise invalid("purpose", "unknown purpose", purpose if isinstance(purpose, str) else None)
    sub, fhir_user = person or (None, None)
    cmd = handlers.BreakTheGlass(body.get("patient"), department, body.get("reason"), minutes,
                                 body.get("sensitive"), claimed_by=sub, claimed_by_user=fhir_user)
    try:
        grant, created = handlers.break_the_glass(cmd, svc.uow(), svc.clock(), svc.directory)
    except NotPermitted:  # its entry changed while the claim was read
        raise _no_emergency_claims() from None
    except InvalidConsent as exc:
        raise from_domain(exc) from None
    resp = jsonify({"id": grant.id, "patient": grant.patient, "department": grant.department,
                    "purpose": grant.purpose, "reason": grant.reason,
                    "claimed_by": handlers.claimed_by(grant),
                    "sensitive": [s.as_dict() for s in grant.sensitive],
                    "granted_at": grant.created_at.isoformat(),
                    "expires_at": grant.expires_at.isoformat(), "decision": "permit",
                    "obligations": grant.obligations()})
    resp.status_code = 201 if created else 200
    return resp


def _no_emergency_claims() -> Problem:
    """The 403 of a department its directory entry does not let claim emergencies, with what it can do."""
    loc = locale()
    return Problem(403, "Forbidden", wording.t(wording.NO_EMERGENCY_CLAIMS, loc),
                   next_step=wording.t(wording.NO_EMERGENCY_CLAIMS_NEXT, loc))
