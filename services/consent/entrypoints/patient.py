"""Patient-facing consent API: /patient/v1/consents (contracts/PATIENT_FACING.md)."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from services.common import i18n
from services.common.auth import require_scope
from services.common.problem import Problem
from services.consent.domain.model import InvalidConsent, Party
from services.consent.entrypoints import wording
from services.consent.entrypoints.common import (from_domain, invalid, json_body, locale,
                                                 parse_instant, service)
from services.consent.service_layer import handlers


blp = Blueprint("patient", __name__)


def register(app: Flask) -> None:
    """Add the patient-facing routes to APP."""
    app.register_blueprint(blp)


def _patient(interactions: str) -> tuple[str, Party]:
    """Return the token's patient and who acts: the patient, or a proxy named by ``act``."""
    claims = require_scope("patient", "Consent", interactions)
    patient = claims.get("patient")
    if not isinstance(patient, str) or not patient:
        raise Problem(403, "Forbidden", wording.t(wording.PATIENT_ONLY, locale()))
    act = claims.get("act")
    if act:
        proxy = act.get("sub") if isinstance(act, dict) else act
        return patient, Party("proxy", str(proxy))
    return patient, Party("patient", patient)


def _view(consent) -> dict:
    svc = service()
    return wording.patient_view(consent, locale(), svc.clock(), svc.directory)


def _not_found(consent_id: str) -> Problem:
    loc = locale()
    return Problem(404, "Not Found", wording.t(wording.NOT_FOUND, loc), slug="not-found",
                   next_step=wording.t(wording.NOT_FOUND_NEXT, loc))


def _envelope(body: dict) -> dict:
    return {**body, "language": i18n.language_block(i18n.current_language())}


@blp.get("/patient/v1/consents")
def list_consents():
    """List the patient's consents, newest first, each in plain words."""
    patient, _actor = _patient("s")
    consents = handlers.list_consents(service().uow(write=False), patient)
    return jsonify(_envelope({"items": [_view(c) for c in consents], "next": None}))


def _grantee(value) -> Party:
    if isinstance(value, str):
        return Party("department", value)
    if isinstance(value, dict):
        kind, ident = value.get("kind", "department"), value.get("id")
        if kind not in ("department", "proxy"):
            raise invalid("grantee.kind", "unknown department", kind, patient=True)
        if not isinstance(ident, str) or not ident:
            raise invalid("grantee.id", "a proxy grantee needs an id" if kind == "proxy"
                          else "unknown department", ident, patient=True)
        return Party(kind, ident)
    raise invalid("grantee", "unknown department", None, patient=True)


@blp.post("/patient/v1/consents")
def create_consent():
    """Grant a consent; its wording is written now, in the patient's language, and hashed."""
    patient, actor = _patient("c")
    body = json_body(patient=True)
    period = body.get("period") or {}
    if not isinstance(period, dict):
        raise invalid("period", "must be an object", patient=True)
    notify = body.get("notify", False)
    if not isinstance(notify, bool):
        raise invalid("notify", "must be true or false", patient=True)
    loc = locale()
    cmd = handlers.GrantConsent(
        patient=patient, grantee=_grantee(body.get("grantee")), purposes=body.get("purposes"),
        classes=body.get("classes"), start=parse_instant(period.get("start"), "period.start", patient=True),
        end=parse_instant(period.get("end"), "period.end", end=True, patient=True),
        actor=actor, language=loc, notify=notify)
    svc = service()
    try:
        consent = handlers.grant_consent(cmd, svc.uow(), svc.clock(),
                                         lambda c: wording.consent_text(c, loc, svc.directory), svc.directory)
    except InvalidConsent as exc:
        raise from_domain(exc, patient=True) from None
    resp = jsonify(_envelope(_view(consent)))
    resp.status_code = 201
    resp.headers["Location"] = f"/patient/v1/consents/{consent.id}"
    return resp


@blp.get("/patient/v1/consents/<consent_id>")
def read_consent(consent_id: str):
    """Show one of the patient's consents; anyone else's is simply not found."""
    patient, _actor = _patient("r")
    try:
        consent = handlers.get_consent(service().uow(write=False), patient, consent_id)
    except handlers.NotFound:
        raise _not_found(consent_id) from None
    return jsonify(_envelope(_view(consent)))


@blp.delete("/patient/v1/consents/<consent_id>")
def revoke_consent(consent_id: str):
    """Revoke at once: the change is committed before this answers; again is harmless."""
    patient, actor = _patient("d")
    svc = service()
    try:
        consent = handlers.revoke_consent(handlers.RevokeConsent(patient, consent_id, actor),
                                          svc.uow(), svc.clock())
    except handlers.NotFound:
        raise _not_found(consent_id) from None
    svc.settle_revocation(consent)  # committed; answer only once no permit read before may start
    return jsonify(_envelope(_view(consent)))
