"""Build the OpenAPI 3.1 document of contract v1 from ``contracts.http`` with apispec."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from contracts.http import Operation, Response, operations, problems

VERSION = "1.0.0"


def _responses(op: Operation) -> dict:
    out = {}
    for r in (*op.responses, *_rate_limited(op)):
        entry = {"description": r.description}
        if r.schema is not None:
            entry["content"] = {r.media_type: {"schema": r.schema}}
        elif r.media_type == "text/plain":
            entry["content"] = {"text/plain": {"schema": {"type": "string"}}}
        out[str(r.status)] = entry
    return out


def _rate_limited(op: Operation) -> tuple[Response, ...]:
    """The 429 of an operation that needs a token, when it does not name one itself: the gateway
    counts every token holder's requests (a per-client rate), whatever the route; it answers
    in the shape of the operation's own 401 (an OperationOutcome on /fhir)."""
    statuses = {r.status for r in op.responses}
    if not op.scopes or 429 in statuses:
        return ()
    like = next((r for r in op.responses if r.status == 401), None)
    if like is None:
        raise ValueError(f"{op.method.upper()} {op.path} needs a token and documents no 401")
    return (Response(429, problems(429)[0].description, like.schema, like.media_type),)


def _operation(op: Operation) -> dict:
    doc = {"summary": op.summary, "tags": [op.tag], "operationId": _operation_id(op),
           "responses": _responses(op)}
    if op.request is not None:
        doc["requestBody"] = {"required": True, "content": {op.request_media_type: {"schema": op.request}}}
    elif op.request_media_type != "application/json":
        doc["requestBody"] = {"required": True, "content": {op.request_media_type: {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}}}}
    if op.parameters:
        doc["parameters"] = list(op.parameters)
    if op.scopes:
        doc["security"] = [{"smart": [scope]} for scope in op.scopes]  # any one of them
    if op.patient_facing:
        doc["x-patient-facing"] = True
    return doc


def _operation_id(op: Operation) -> str:
    words = [w.strip("{}") for w in op.path.replace(".well-known", "well-known").split("/") if w]
    return op.method + "".join(w.replace("-", " ").title().replace(" ", "") for w in words)


def build() -> dict:
    """Return the OpenAPI document as a dict."""
    spec = APISpec(title="PHR exchange — public contract v1", version=VERSION, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "One origin (the gateway) for departments, patients' apps and "
                                        "integrators. Errors are application/problem+json (RFC 9457).",
                         "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
                   servers=[{"url": "http://127.0.0.1:8080", "description": "make up"}])
    spec.components.security_scheme("smart", {
        "type": "oauth2", "description": "SMART App Launch 2 scopes; access tokens are RFC 9068 JWTs.",
        "flows": {
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {
                "system/*.rs": "read and search what the department holds",
                "system/*.c": "store records (transaction Bundles)",
                "system/Patient.r": "read its patients (activation codes)",
                "system/{type}.r": "read a resource of that type",
                "system/Equity.r": "the equity report (oversight only; no wildcard scope covers it)"}},
            "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                                  "scopes": {"patient/*.rs": "read my record",
                                             "offline_access": "stay signed in"}}}})
    paths: dict[str, dict] = {}
    for op in operations():
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    for path, by_method in paths.items():
        spec.path(path=path, operations=by_method)
    return spec.to_dict()
