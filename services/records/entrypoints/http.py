"""HTTP entrypoint of the records service: parse, call a handler, map errors to problems."""
from __future__ import annotations

from flask import Flask, Response, current_app, g, json, request

from contracts.schemas import BundleSchema
from services.common.auth import require_scope
from services.common.config import load_settings
from services.common.db import ping
from services.common.fhir_errors import outcome_problem
from services.common.kafka import broker_reachable
from services.common.problem import Problem
from services.common.http import service_app
from services.records.bootstrap import Records, bootstrap
from services.records.domain.bundle import InvalidBundle
from services.records.entrypoints import patient
from services.records.service_layer import handlers

FHIR_JSON = "application/fhir+json"


def create_app(test_config: dict | None = None) -> Flask:
    """Create the records app: settings, then TEST_CONFIG overrides (engine, validator, settings)."""
    test_config = test_config or {}
    settings = test_config.get("settings") or load_settings("records")
    records = bootstrap(settings, test_config.get("engine"))
    app = service_app(__name__, settings, {
        "database": lambda: ping(records.engine),
        "broker": lambda: broker_reachable(settings.kafka_bootstrap),
    }, test_config.get("validator"), open_paths=("/fhir/metadata",))
    app.extensions["records"] = records

    app.add_url_rule("/fhir/metadata", view_func=capability_statement, methods=["GET"])
    app.add_url_rule("/fhir", view_func=post_transaction, methods=["POST"])
    app.add_url_rule("/fhir/<resource_type>/<rid>", view_func=read, methods=["GET"])
    patient.register(app)
    return app


def _records() -> Records:
    return current_app.extensions["records"]


def _department() -> str:
    dept = g.claims.get("dept")
    if not dept:
        raise Problem(403, "Forbidden", "Only a department's token can use the FHIR API.")
    return dept


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON, headers=headers or {})


def capability_statement():
    """Describe what this FHIR server supports (FHIR R4 CapabilityStatement)."""
    return fhir_response({
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "date": "2026-11-25", "fhirVersion": "4.0.1", "format": ["json"],
        "rest": [{"mode": "server", "interaction": [{"code": "transaction"}],
                  "security": {"service": [{"coding": [{
                      "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                      "code": "SMART-on-FHIR"}]}]},
                  "resource": [{"type": "Resource", "interaction": [{"code": "read"}]}]}],
    })


def post_transaction():
    """Store a transaction Bundle atomically (FHIR R4 section 3.1.0.11.2)."""
    require_scope("system", "*", "c")
    custodian = _department()
    body = request.get_json(silent=True)
    if body is None:
        raise outcome_problem(400, "The body is not JSON.", [("Bundle", "The body is not JSON.", "structure")])
    shape = BundleSchema().validate(body) if isinstance(body, dict) else {"Bundle": ["not an object"]}
    if shape:
        issues = [(where, message, "structure") for where, message in _flatten(shape, "Bundle")]
        status = 400 if not isinstance(body, dict) or body.get("resourceType") != "Bundle" else 422
        raise outcome_problem(status, "The body is not a transaction Bundle.", issues)
    try:
        result = handlers.import_bundle(handlers.ImportBundle(body, custodian), _records().uow())
    except InvalidBundle as exc:
        raise outcome_problem(exc.status, f"The Bundle was not stored: {exc}",
                              [(e.expression, e.message, e.code) for e in exc.errors]) from exc
    return fhir_response(result, 200)


def _flatten(messages, where: str) -> list[tuple[str, str]]:
    """Turn marshmallow's nested errors into (FHIRPath-like expression, message) pairs."""
    if isinstance(messages, dict):
        return [pair for key, value in messages.items()
                for pair in _flatten(value, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}")]
    if isinstance(messages, list):
        return [pair for value in messages for pair in _flatten(value, where)]
    return [(where, str(messages))]


def read(resource_type: str, rid: str):
    """Return the current version of one resource to its custodian department."""
    require_scope("system", resource_type, "r")
    try:
        stored = handlers.read_resource(_records().uow(write=False), resource_type, rid, _department())
    except handlers.NotFound:
        raise outcome_problem(404, f"There is no {resource_type} with id {rid} that you may read.",
                              [(f"{resource_type}/{rid}", "Not found.", "not-found")]) from None
    etag = f'W/"{stored.version_id}"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(stored.serialized(), mimetype=FHIR_JSON, headers={
        "ETag": etag, "Last-Modified": stored.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT")})
