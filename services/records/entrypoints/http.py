"""HTTP entrypoint of the records service: parse, call a handler, map errors to problems."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, g, json, request

from contracts.http import FHIR_TYPE_RE
from contracts.schemas import BundleSchema
from services.common import bodies, machines, measures, tracing
from services.common.auth import require_scope
from services.common.config import load_settings
from services.common.db import ping
from services.common.fhir_errors import outcome_problem
from services.common.kafka import broker_reachable
from services.common.outbox import ParkedEvents
from services.common.problem import Problem
from services.common.fastpath import FastRoutes
from services.common.http import service_app
from services.records.adapters.tables import outbox
from services.records.bootstrap import Records, bootstrap
from services.records.domain.bundle import InvalidBundle
from services.records.domain.search import (SUPPORTED, BadSearch, encode_cursor, includes_of, parse_query,
                                            revincludes_of, subsetted)
from services.records.entrypoints import capability, patient, staff
from services.records.entrypoints.fastpath import fast_read, fast_records_page, resource_headers
from services.records.entrypoints.worker import consumer_specs
from services.records.entrypoints.shape import plainly_valid
from services.records.service_layer import fhir_search, handlers, patient_fhir
from services.records.service_layer import measures as human_measures
from services.records.service_layer.claim_checks import claim_check_grace

FHIR_JSON = "application/fhir+json"
blp = Blueprint("fhir", __name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Create the records app: settings, then TEST_CONFIG overrides (engine, validator, settings, clock)."""
    test_config = test_config or {}
    settings = test_config.get("settings") or load_settings("records")
    records = bootstrap(settings, test_config.get("engine"), test_config.get("clock"))
    app = service_app(__name__, settings, {
        "database": lambda: ping(records.engine),
        "broker": lambda: broker_reachable(settings.kafka_bootstrap),
    }, test_config.get("validator"), open_paths=("/fhir/metadata",), directory=records.directory)
    app.extensions["records"] = records
    app.extensions["metrics_registry"].register(ParkedEvents(records.engine, outbox, settings.service))
    # The worker's own table of groups (built, not run), so that the two cannot drift.
    machines.install(app, settings, records.engine, outbox,
                     {spec.group: spec.topics for spec in consumer_specs(records, None)})


    def records_measures():
        return human_measures.current(records.uow(write=False), records.clock())

    measures.providers(app).append(measures.Cached(records_measures))  # a scrape storm reads once
    app.register_blueprint(blp)
    patient.register(app)
    staff.register(app)
    validator = app.extensions["token_validator"]
    routes = [fast_read(records, validator), fast_records_page(records, validator, app)]
    app.wsgi_app = FastRoutes(app.wsgi_app, [route for route in routes if route is not None],
                              app.extensions["observe_request"])
    tracing.trace_app(app)  # outermost: the fast path's requests are traced too
    return app


def _records() -> Records:
    return current_app.extensions["records"]


def _department() -> str:
    dept = g.claims.get("dept")
    if not dept:
        raise Problem(403, "Forbidden", "Only a department's token can use the FHIR API.")
    return dept


@dataclass(frozen=True)
class Reader:
    """Who reads over FHIR: a department (its custodian rule) or a patient's app (its compartment)."""

    department: str | None = None
    patient: str | None = None


def _reader(resource_type: str, interactions: str) -> Reader:
    """A patient's token (SMART patient/ scopes; a caregiver's within what the patient gave, as on
    /patient/v1) reads its compartment; any other token needs system/ scopes and a department."""
    claims = g.claims
    if not claims.get("dept") and claims.get("patient"):
        return Reader(patient=patient._patient(resource_type, interactions))
    require_scope("system", resource_type, interactions)
    return Reader(department=_department())


def fhir_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON, headers=headers or {})


@blp.get("/fhir/metadata")
def capability_statement():
    """Describe what this FHIR server supports (FHIR R4 CapabilityStatement), from its routes."""
    types = capability.TYPES
    return fhir_response(capability.statement(
        current_app.url_map.iter_rules(), _records().settings.issuer,
        {t: includes_of(t) for t in types}, {t: revincludes_of(t) for t in types}))


@blp.post("/fhir")
def post_transaction():
    """Store a transaction Bundle atomically (FHIR R4 section 3.1.0.11.2)."""
    require_scope("system", "*", "c")
    custodian = _department()
    body = bodies.json_body(bodies.BUNDLE)
    if body is None:
        raise outcome_problem(400, "The body is not JSON.", [("Bundle", "The body is not JSON.", "structure")])
    if plainly_valid(body):
        shape = {}
    else:
        shape = BundleSchema().validate(body) if isinstance(body, dict) else {"Bundle": ["not an object"]}
    if shape:
        issues = [(where, message, "structure") for where, message in _flatten(shape, "Bundle")]
        status = 400 if not isinstance(body, dict) or body.get("resourceType") != "Bundle" else 422
        raise outcome_problem(status, "The body is not a transaction Bundle.", issues)
    try:
        result = handlers.import_bundle(handlers.ImportBundle(body, custodian), _records().uow(),
                                        _records().labeller)
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


@blp.get("/fhir/<resource_type>/<rid>")
def read(resource_type: str, rid: str):
    """Return the current version of one resource to its custodian department, or to the
    patient's app whose compartment holds it."""
    who = _reader(resource_type, "r")
    try:
        if who.patient:
            stored = patient_fhir.read(_records().uow(write=False), who.patient, resource_type, rid)
        else:
            stored = handlers.read_resource(_records().reader(), resource_type, rid, who.department)
    except handlers.NotFound:
        if who.department and handlers.deleted(_records().uow(write=False), resource_type, rid, who.department):
            raise outcome_problem(410, f"{resource_type}/{rid} was deleted; its history is kept.",
                                  [(f"{resource_type}/{rid}", "Deleted.", "deleted")]) from None
        raise _not_found(resource_type, rid) from None
    return _resource_response(stored)


@blp.delete("/fhir/<resource_type>/<rid>")
def delete(resource_type: str, rid: str):
    """Delete one resource its custodian holds (FHIR R4 3.1.0.7); its history stays, a read is 410."""
    require_scope("system", resource_type, "d")
    try:
        handlers.delete_resource(handlers.DeleteResource(resource_type, rid, _department()), _records().uow())
    except handlers.NotFound:
        raise _not_found(resource_type, rid) from None
    return Response(status=204)


def _not_found(resource_type: str, rid: str) -> Problem:
    if g.get("claims", {}).get("patient") and not g.claims.get("dept"):
        # A patient's app asked for what is not theirs: the answer does not echo the id, as a
        # refusal on /patient/v1 does not (contracts/conformance/security.py checks it).
        return outcome_problem(404, f"There is no {resource_type} with that id in your record.",
                               [(resource_type, "Not found.", "not-found")])
    return outcome_problem(404, f"There is no {resource_type} with id {rid} that you may read.",
                           [(f"{resource_type}/{rid}", "Not found.", "not-found")])


def _resource_response(stored, status: int = 200) -> Response:
    etag = f'W/"{stored.version_id}"'
    if status == 200 and request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(stored.serialized(), status=status, mimetype=FHIR_JSON, headers=resource_headers(stored))



@blp.get("/fhir/<resource_type>")
def search(resource_type: str):
    """Search the department's resources of one type (FHIR R4 3.1.1.5), or a patient's app its
    compartment's; a searchset page with cursors."""
    who = _reader(resource_type, "s")
    _known_type(resource_type)
    args = list(request.args.items(multi=True))
    try:
        query = parse_query(resource_type, who.department, args, compartment=who.patient)
    except BadSearch as exc:
        raise outcome_problem(400, f"The search cannot be run: {exc}",
                              [(exc.param, str(exc), "not-supported" if exc.param not in SUPPORTED else "invalid")]
                              ) from None
    find = patient_fhir.search if who.patient else handlers.search
    rows, total, resume_after = find(_records().uow(write=False), query)
    links = [{"relation": "self", "url": _url(args)}]
    if query.count_only:  # _summary=count: the total alone (R4 3.1.1.5.8)
        return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links})
    given = [(k, v) for k, v in args if k != "_cursor"]
    if resume_after is not None:
        links.append({"relation": "next", "url": _url(given + [("_cursor", encode_cursor(resume_after))])})
    shown = (lambda r: subsetted(r, query.elements)) if query.elements else (lambda r: r)
    entries = [{"fullUrl": _full_url(r.resource_type, r.id), "resource": shown(r.body()), "search": {"mode": "match"}}
               for r in rows]
    may_see = ((lambda r: patient_fhir.visible(r, who.patient)) if who.patient
               else (lambda r: r.custodian == who.department))
    entries += [{"fullUrl": _full_url(r.resource_type, r.id), "resource": r.body(), "search": {"mode": "include"}}
                for r in fhir_search.related(_records().uow(write=False), query, rows, may_see)]
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                          "entry": entries})


def _public(path: str) -> str:
    """PATH (under /fhir, as the gateway serves it) as an absolute URL: FHIR R4 wants a Bundle's
    links and fullUrls absolute (Bundle.entry.fullUrl "The Absolute URL for the resource"), and
    clients such as fhirclient follow a `next` link only when it is. The gateway's public address
    is the issuer (the CapabilityStatement's implementation.url is the same base)."""
    return _records().settings.issuer.rstrip("/") + path


def _url(args: list[tuple[str, str]]) -> str:
    return _public(f"{request.path}?{urlencode(args)}" if args else request.path)


def _full_url(resource_type: str, rid: str) -> str:
    return _public(f"/fhir/{resource_type}/{rid}")


@blp.get("/fhir/<resource_type>/<rid>/_history")
def history(resource_type: str, rid: str):
    """Every version of one resource, newest first (FHIR R4 3.1.0.9, history-instance)."""
    versions = _versions(resource_type, rid)
    entries = []
    for v in versions:
        method = "POST" if v.version_id == 1 else "PUT"
        entries.append({"fullUrl": _full_url(resource_type, rid), "resource": v.body(),
                        "request": {"method": method, "url": resource_type if method == "POST" else f"{resource_type}/{rid}"},
                        "response": {"status": "201 Created" if method == "POST" else "200 OK",
                                     "etag": f'W/"{v.version_id}"', "lastModified": v.last_updated.isoformat()}})
    return fhir_response({"resourceType": "Bundle", "type": "history", "total": len(entries),
                          "link": [{"relation": "self", "url": _public(request.path)}], "entry": entries})


@blp.get("/fhir/<resource_type>/<rid>/_history/<vid>")
def vread(resource_type: str, rid: str, vid: str):
    """One version of one resource (FHIR R4 3.1.0.3, vread)."""
    for v in _versions(resource_type, rid):
        if str(v.version_id) == vid:
            return _resource_response(v)
    raise _not_found(resource_type, f"{rid}/_history/{vid}")


def _versions(resource_type: str, rid: str) -> list:
    who = _reader(resource_type, "r")
    try:
        if who.patient:
            return patient_fhir.history(_records().uow(write=False), who.patient, resource_type, rid)
        return handlers.history(_records().uow(write=False), resource_type, rid, who.department)
    except handlers.NotFound:
        raise _not_found(resource_type, rid) from None


@blp.put("/fhir/<resource_type>/<rid>")
def update(resource_type: str, rid: str):
    """Store a new version of one resource (FHIR R4 3.1.0.4); with If-Match W/"<version>", only
    if that is still the current one (3.1.0.4.2, version-aware updates), else 412."""
    require_scope("system", resource_type, "u")
    dept = _department()
    body = bodies.json_body(bodies.RESOURCE)
    if not isinstance(body, dict):
        raise outcome_problem(400, "The body is not a FHIR resource.",
                              [(resource_type, "The body must be a JSON object.", "structure")])
    cmd = handlers.UpdateResource(resource_type, rid, body, dept, request.headers.get("If-Match"))
    try:
        stored = handlers.update_resource(cmd, _records().uow(), _records().labeller)
    except InvalidBundle as exc:
        raise outcome_problem(exc.status, f"The resource was not stored: {exc}",
                              [(e.expression, e.message, e.code) for e in exc.errors]) from exc
    except handlers.NotFound:
        raise _not_found(resource_type, rid) from None
    except handlers.PreconditionFailed as exc:
        raise Problem(412, "Precondition Failed",
                      f"{resource_type}/{rid} changed since you read it: the current version is {exc.current}.",
                      resourceType="OperationOutcome", current_version=str(exc.current),
                      issue=[{"severity": "error", "code": "conflict",
                              "diagnostics": f"If-Match does not name version {exc.current}.",
                              "expression": ["If-Match"]}]) from None
    return _resource_response(stored)


@blp.post("/fhir/<resource_type>")
def create(resource_type: str):
    """Store a new resource (FHIR R4 3.1.0.6 create); If-None-Exist: identifier=... makes it
    conditional (3.1.0.8): a match the caller holds is answered 200 and nothing is stored."""
    require_scope("system", resource_type, "c")
    dept = _department()
    _known_type(resource_type)
    body = bodies.json_body(bodies.RESOURCE)
    if body is None:
        raise outcome_problem(400, "The body is not JSON.", [(resource_type, "The body is not JSON.", "structure")])
    cmd = handlers.CreateResource(resource_type, body, dept, request.headers.get("If-None-Exist"))
    try:
        stored, created = handlers.create_resource(cmd, _records().uow(), _records().labeller)
    except InvalidBundle as exc:
        raise outcome_problem(exc.status, f"The resource was not stored: {exc}",
                              [(e.expression, e.message, e.code) for e in exc.errors]) from exc
    except handlers.NotFound:
        # If-None-Exist matched a resource another department holds: not the caller's to see.
        raise outcome_problem(412, "If-None-Exist matches a resource you may not read; nothing was stored.",
                              [("If-None-Exist", "Matches a resource held by someone else.", "conflict")]) from None
    resp = _resource_response(stored, 201 if created else 200)
    # Path-only (RFC 9110 section 10.2.2): clients reach records through the gateway's origin.
    resp.headers["Location"] = f"/fhir/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
    return resp


def _known_type(resource_type: str) -> None:
    if not FHIR_TYPE_RE.match(resource_type):
        raise outcome_problem(404, f"{resource_type} is not a FHIR resource type.",
                              [(resource_type, "Unknown resource type.", "not-found")])


@blp.get("/internal/v1/bundles/<ref>")
def claim_check(ref: str):
    """Return a Bundle prepared for a phr.records.fetch request to the department that asked (claim-check)."""
    require_scope("system", "Exchange", "r")
    records = _records()
    try:
        check = handlers.read_claim_check(records.uow(), ref, _department(),
                                          grace=claim_check_grace(records.settings))
    except handlers.NotFound:
        raise outcome_problem(404, "There is no prepared Bundle with that reference for you.",
                              [(f"Bundle/{ref}", "Not found.", "not-found")]) from None
    except handlers.Gone:
        raise Problem(410, "Gone", "The prepared Bundle has expired; ask for the records again.") from None
    return Response(check.content, mimetype=FHIR_JSON, headers={"Cache-Control": "no-store"})
