"""FHIR R4 Subscription for departments (create, read, search, delete): served by the exchange
under the FHIR API's path (the gateway sends /fhir/Subscription here, gateway/proxy/routes.py),
because notifications go out on the exchange's consent decisions and into its ledger
(service_layer/subscriptions.py). A department sees and deletes only its own subscriptions;
another's is not found."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, json, request

from services.common import bodies
from services.common.auth import require_scope
from services.common.fhir_errors import outcome_problem
from services.exchange.domain import subscriptions as subs
from services.exchange.entrypoints.common import department, service
from services.exchange.service_layer.subscriptions import MAX_PER_DEPARTMENT, Conflict, NotFound, TooMany

blp = Blueprint("subscriptions", __name__)
SEARCH_MAX = 100


def register(app: Flask) -> None:
    """Add the FHIR Subscription routes to APP."""
    app.register_blueprint(blp)


def _fhir(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype=subs.FHIR_JSON, headers=headers or {})


def _not_found(sub_id: str):
    return outcome_problem(404, "There is no subscription with that id for you.",
                           [("Subscription.id", f"Subscription/{sub_id} is not found.", "not-found")])


@blp.post("/fhir/Subscription")
def create():
    """Store the calling department's Subscription (201, the stored resource). The same one again
    (same patient, type, endpoint and every other element) answers the one stored (200, as a FHIR
    conditional create that matched); one that differs only elsewhere is a 409 naming it."""
    require_scope("system", "Subscription", "c")
    dept = department()
    body = bodies.json_body(bodies.SMALL)
    if body is None:
        raise outcome_problem(400, "Send the Subscription as application/fhir+json.",
                              [("Subscription", "The body is not JSON.", "structure")])
    svc = service()
    try:
        with svc.uow() as uow:
            sub, created = svc.subscriptions.create(uow, dept, body)
    except subs.Invalid as exc:
        raise outcome_problem(422, "The Subscription cannot be used as it is.", exc.issues) from None
    except TooMany:
        raise outcome_problem(409, f"Your department holds {MAX_PER_DEPARTMENT} subscriptions already.",
                              [("Subscription", "Delete one you no longer need first.", "business-rule")]) from None
    except Conflict as exc:
        raise outcome_problem(
            409, "You have a subscription on this patient, type and endpoint already.",
            [("Subscription", f"Subscription/{exc.args[0]} sends these notifications; delete it first to change it.",
              "duplicate")]) from None
    return _fhir(subs.as_resource(sub), 201 if created else 200, {"Location": f"{svc.subscriptions.base}/Subscription/{sub.id}"})


@blp.get("/fhir/Subscription/<sub_id>")
def read(sub_id: str):
    require_scope("system", "Subscription", "r")
    dept, svc = department(), service()
    try:
        with svc.uow(write=False) as uow:
            sub = svc.subscriptions.get(uow, dept, sub_id)
    except NotFound:
        raise _not_found(sub_id) from None
    return _fhir(subs.as_resource(sub))


@blp.get("/fhir/Subscription")
def search():
    """The calling department's subscriptions (only those on PATIENT with ?patient=), newest first."""
    require_scope("system", "Subscription", "s")
    dept, svc = department(), service()
    unknown = sorted(set(request.args) - {"patient", "_count"})
    if unknown:
        raise outcome_problem(400, "This search takes patient and _count only.",
                              [(f"Subscription?{name}", f"{name} is not a search parameter here.", "not-supported")
                               for name in unknown])
    patient = request.args.get("patient")
    patient = patient.removeprefix("Patient/") if patient else None
    count = request.args.get("_count", str(SEARCH_MAX))
    if not count.isdigit() or not 1 <= int(count) <= SEARCH_MAX:
        raise outcome_problem(400, f"Use a _count from 1 to {SEARCH_MAX}.",
                              [("Subscription?_count", f"Use a _count from 1 to {SEARCH_MAX}.", "value")])
    with svc.uow(write=False) as uow:
        found = svc.subscriptions.search(uow, dept, patient, int(count))
    base = svc.subscriptions.base
    entries = [{"fullUrl": f"{base}/Subscription/{s.id}", "resource": subs.as_resource(s),
                "search": {"mode": "match"}} for s in found]
    return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})


@blp.delete("/fhir/Subscription/<sub_id>")
def delete(sub_id: str):
    """Stop the subscription: nothing more is sent for it (204)."""
    require_scope("system", "Subscription", "d")
    dept, svc = department(), service()
    try:
        with svc.uow() as uow:
            svc.subscriptions.delete(uow, dept, sub_id)
    except NotFound:
        raise _not_found(sub_id) from None
    return Response(status=204)
