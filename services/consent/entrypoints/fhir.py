"""FHIR R4 Consent search for departments: GET /fhir/Consent?patient= (FHIR R4 Consent, 6.2)."""
from __future__ import annotations

import base64

from flask import Blueprint, Flask, Response, g, json, request

from services.common.auth import require_scope
from services.common.fhir_errors import outcome_problem
from services.common.problem import Problem
from contracts import vocabulary as v
from services.consent.domain.model import ACTIVE, Consent
from services.consent.entrypoints import wording
from services.consent.entrypoints.common import service
from services.consent.service_layer import handlers

FHIR_JSON = "application/fhir+json"
EVIDENCE_EXTENSION = "https://phr.example.org/fhir/StructureDefinition/consent-text-sha256"
PROXY_SYSTEM = "https://phr.example.org/fhir/proxy"
DEPARTMENT_SYSTEM = "https://phr.example.org/fhir/department"


blp = Blueprint("fhir", __name__)


def register(app: Flask) -> None:
    """Add the FHIR routes to APP."""
    app.register_blueprint(blp)


@blp.get("/fhir/Consent")
def search():
    """Return the patient's consents that name the calling department, as a searchset Bundle."""
    require_scope("system", "Consent", "r")
    dept = g.claims.get("dept")
    if not dept:
        raise Problem(403, "Forbidden", "Only a department's token can use the FHIR API.")
    patient = (request.args.get("patient") or "").removeprefix("Patient/")
    if not patient:
        raise outcome_problem(400, "The search needs a patient parameter.",
                              [("Consent.patient", "The patient parameter is required.", "required")])
    svc = service()
    now = svc.clock()
    consents = handlers.consents_for_department(svc.uow(write=False), patient, dept)
    entries = [{"fullUrl": f"urn:uuid:{c.id}", "resource": to_fhir(c, now, svc.directory),
                "search": {"mode": "match"}} for c in consents]
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    return Response(json.dumps(bundle), mimetype=FHIR_JSON)


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def to_fhir(c: Consent, now, names: wording.Names) -> dict:
    """Map a consent to a FHIR R4 Consent (scope patient-privacy, a permit provision); the
    grantee's display is its English name in NAMES, the directory."""
    status = "active" if c.status_at(now) == ACTIVE else "inactive"
    grantee = (_coding(DEPARTMENT_SYSTEM, c.grantee.id) if c.grantee.kind == "department"
               else _coding(PROXY_SYSTEM, c.grantee.id))
    period = {"start": c.start.isoformat(), **({"end": c.end.isoformat()} if c.end else {})}
    performer = ({"reference": f"Patient/{c.patient}"} if c.created_by.kind == "patient"
                 else {"identifier": {"system": PROXY_SYSTEM, "value": c.created_by.id}})
    provision = {
        "type": "permit", "period": period,
        "actor": [{"role": {"coding": [_coding(
            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient")]},
            "reference": {"identifier": {"system": grantee["system"], "value": grantee["code"]},
                          "display": wording.grantee_name(c, "en", names)}}],
        "purpose": [_coding(v.PURPOSE_SYSTEM, p) for p in c.purposes],
    }
    if c.labels:
        provision["securityLabel"] = [_coding(v.LABEL_SYSTEM, code) for code in c.labels]
    if c.resource_types:
        provision["class"] = [_coding(v.RESOURCE_SYSTEM, code) for code in c.resource_types]
    return {
        "resourceType": "Consent", "id": c.id,
        "meta": {"versionId": str(c.version)},
        "status": status,
        "scope": {"coding": [_coding("http://terminology.hl7.org/CodeSystem/consentscope",
                                     "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [_coding("http://loinc.org", "59284-0", "Patient Consent")]}],
        "patient": {"reference": f"Patient/{c.patient}"},
        "dateTime": c.created_at.isoformat(),
        "performer": [performer],
        "sourceAttachment": {
            "contentType": "text/plain; charset=utf-8", "language": c.language,
            "data": base64.b64encode(c.text.encode()).decode(),
            "title": "The consent text shown to the patient",
            "extension": [{"url": EVIDENCE_EXTENSION, "valueString": c.text_sha256}]},
        "policyRule": {"coding": [_coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN")]},
        "provision": provision,
    }
