"""Department-facing exchange API: requests, their status, the Bundle, the ledger check."""
from __future__ import annotations

import re
from contextlib import nullcontext

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from contracts.schemas.exchange import ExchangeRequestSchema
from services.common.auth import bearer_token, require_scope
from services.common import tracing
from services.common.params import whole_number
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.adapters.peers import PeerRefused, PeerUnavailable
from services.exchange.domain import ledger as chain
from services.exchange.domain import model as m
from services.exchange.entrypoints import wording
from services.exchange.entrypoints.common import department, lang, load, service
from services.exchange.service_layer import queries

_REQUEST = ExchangeRequestSchema()
# What a department is told when domain.model.may_release refuses a download, by refusal.
_REFUSED = {"consent-withdrawn": N_("The patient's consent no longer allows this release."),
            "consent-narrowed": N_("The patient's consent changed since release. Ask for the records again.")}
blp = Blueprint("departments", __name__)


def register(app: Flask) -> None:
    """Add the department-facing routes to APP."""
    app.register_blueprint(blp)


@blp.post("/exchange/v1/requests")
def create_request():
    """Store the request and its event together; the worker takes it from there."""
    require_scope("system", "Exchange", "c")
    dept = department()
    body = load(_REQUEST)
    with service().uow() as uow:
        row = service().flow.submit(uow, body["patient"], dept, body["purpose"],
                                    list(dict.fromkeys(body["resource_types"])), body.get("reason"),
                                    traceparent=tracing.current_traceparent())
    resp = jsonify({"id": row["id"], "status": row["status"]})
    resp.status_code = 202
    resp.headers["Location"] = url_for(".get_request", request_id=row["id"])
    return resp


def _own(request_id: str) -> m.ExchangeRequest:
    """Return the caller's request, else 404 (another department's is not found either)."""
    row = queries.request_for(service().uow(write=False), request_id, department())
    if row is None:
        raise Problem(404, N_("Not Found"), N_("There is no exchange request with that id for you."))
    return row


def _status(row: m.ExchangeRequest, language: str) -> dict:
    body = {"id": row.id, "status": row.status, "outcome": wording.outcome(row.outcome, language),
            "patient": row.patient, "purpose": row.purpose, "resource_types": row.resource_types,
            "requested_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "consent": None, "redacted": None, "resource_count": row.resource_count,
            "ledger_seq": row.ledger_seq, "bundle": None}
    if row.consent_id or row.basis:
        body["consent"] = {"id": row.consent_id, "version": row.consent_version, "basis": row.basis}
    if row.status == m.FULFILLED:
        body["redacted"] = {"labels": row.redact_labels, "count": row.redacted_count or 0}
        body["bundle"] = url_for(".get_bundle", request_id=row.id)
    return body


@blp.get("/exchange/v1/requests/<request_id>")
def get_request(request_id: str):
    require_scope("system", "Exchange", "r")
    return jsonify(_status(_own(request_id), lang()))


@blp.get("/exchange/v1/requests/<request_id>/bundle")
def get_bundle(request_id: str):
    """Decide afresh with the caller's own token, then pass on the Bundle records prepared."""
    require_scope("system", "Exchange", "r")
    row = _own(request_id)
    if row.status != m.FULFILLED:
        raise Problem(409, N_("Conflict"), N_("This request has no Bundle: it is {status}."),
                      params={"status": row.status}, status_code=row.status)
    # The decision and the records read for a download are the end of the exchange request: they
    # continue its trace (as the sweeper's retries do), linked to the download's own request.
    with tracing.resumed(row.traceparent, "exchange bundle download", linked=True) if row.traceparent \
            else nullcontext():
        return _released_bundle(row)


def _released_bundle(row: m.ExchangeRequest) -> Response:
    """The Bundle records prepared for ROW, after a fresh decision with the caller's own token."""
    token, svc = bearer_token(), service()
    try:
        decision = svc.consent.decide(row.patient, row.requester, row.purpose, row.resource_types, bearer=token)
    except PeerUnavailable:
        raise Problem(503, N_("Service Unavailable"),
                      N_("The consent service did not answer, so nothing was released. Try again soon."),
                      headers={"Retry-After": "5"}) from None
    except PeerRefused as exc:
        raise Problem(403, N_("Forbidden"), N_("The consent service refused to decide for this token."),
                      consent_status=exc.status) from None
    verdict = m.may_release(decision, row.redact_labels)  # the rule the worker released by
    if not verdict:
        raise Problem(403, N_("Forbidden"), _REFUSED[verdict.refusal], slug="consent-withdrawn")
    try:
        got = svc.records.bundle(row.bundle_ref, token)
    except PeerUnavailable:
        raise Problem(503, N_("Service Unavailable"), N_("The records service did not answer. Try again soon."),
                      headers={"Retry-After": "5"}) from None
    if got.status_code in (404, 410):
        # Records deletes a prepared Bundle once it expired or a grace after its first download;
        # this request's own reference being unknown there means exactly that.
        raise Problem(410, N_("Gone"), N_("The prepared Bundle has expired; ask for the records again."),
                      next_step=N_("Send a new exchange request (POST /exchange/v1/requests) for these records."))
    if got.status_code != 200:
        raise Problem(502, N_("Bad Gateway"), N_("The records service could not give the Bundle."),
                      records_status=got.status_code)
    return Response(got.content, mimetype="application/fhir+json", headers={"Cache-Control": "no-store"})


_HASH = re.compile(r"[0-9a-f]{64}")
#: The largest entry number the ledger's column holds (a 32-bit INTEGER on PostgreSQL).
LAST_SEQ = 2**31 - 1


def _checkpoint() -> chain.Checkpoint | None:
    """The ?after=SEQ&hash=HASH an auditor kept from an earlier verdict, or None for a full walk."""
    after, digest = request.args.get("after"), request.args.get("hash")
    if after is None and digest is None:
        return None
    seq = whole_number(after or "")
    if seq is None or seq > LAST_SEQ or digest is None or not _HASH.fullmatch(digest):
        raise Problem(422, N_("Unprocessable Content"),
                      N_("Give after (an entry number) and hash (its 64 hex digits) together, "
                         "as an earlier verdict's entries and head."),
                      slug="invalid-input", fields=["after", "hash"])
    return chain.Checkpoint(seq, digest)


@blp.get("/exchange/v1/ledger/verify")
def verify_ledger():
    """Walk the hash chain (all of it, or what came after a checkpoint) and report any entry
    edited or removed."""
    require_scope("system", "Exchange", "r")
    start = _checkpoint()
    return jsonify(queries.verify_ledger(service().uow(write=False), start).as_dict())
