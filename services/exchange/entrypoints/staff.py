"""Staff-facing exchange API: a department's people (user/ scopes) see their department's
requests with what to do next, ask for records as the department does, and review the
break-the-glass claims on the department's patients. The department is the token's dept
claim, the person its sub and fhirUser; another department's items are not found."""
from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, url_for

from contracts.schemas.exchange import ExchangeRequestSchema
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.domain import model as m
from services.exchange.domain import staff as rules
from services.exchange.entrypoints import wording as w
from services.exchange.entrypoints.common import department, lang, load, next_cursor, page_args, service
from services.exchange.service_layer import queries

_REQUEST = ExchangeRequestSchema()
blp = Blueprint("staff", __name__)


def register(app: Flask) -> None:
    """Add the staff-facing routes to APP."""
    app.register_blueprint(blp)


def person() -> dict:
    """The member of staff asking: {sub, fhirUser} of the token."""
    fhir_user = g.claims.get("fhirUser")
    return {"sub": str(g.claims["sub"]), "fhirUser": str(fhir_user) if fhir_user else None}


def request_item(row: m.ExchangeRequest, language: str, names: w.Names) -> dict:
    """One request as its department's staff see it: status, the reason and the next step in
    words (the department named by NAMES, the directory's names)."""
    step = rules.next_step(row.outcome)
    dept_name = w.department(row.requester, language, names)
    next_step = {"code": step, "text": w.next_step_text(row.outcome, row.resource_types, dept_name, language)}
    if step == rules.ASK_PATIENT:
        # what a sharing request to the patient would name, so a page can offer it as it is
        next_step.update(patient=row.patient, classes=list(row.resource_types), purpose=row.purpose,
                         exchange_request=row.id)
    return {"id": row.id, "status": row.status, "outcome": w.outcome(row.outcome, language),
            "patient": row.patient, "purpose": row.purpose, "resource_types": row.resource_types,
            "records": [w.record_kind(kind, language) for kind in row.resource_types],
            "requested_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "requested_by": ({"sub": row.requested_by, "fhirUser": row.requested_by_user}
                             if row.requested_by else None),
            "resource_count": row.resource_count, "ledger_seq": row.ledger_seq,
            "redacted": ({"labels": row.redact_labels, "count": row.redacted_count or 0}
                         if row.status == m.FULFILLED else None),
            "next_step": next_step}


@blp.get("/staff/v1/inbox")
def inbox():
    require_scope("user", "Exchange", "r")
    dept = department()
    limit, offset = page_args("inbox")
    rows, more = queries.inbox(service().uow(write=False), dept, limit, offset)
    language, names = lang(), service().directory.name
    items = [request_item(r, language, names) for r in rows]
    return jsonify({"items": items, "next": next_cursor("inbox", offset, items, more)})


@blp.post("/staff/v1/requests")
def create_request():
    """Ask for records exactly as the department does (the same flow), keeping who asked."""
    require_scope("user", "Exchange", "c")
    dept = department()
    body = load(_REQUEST)
    with service().uow() as uow:
        row = service().flow.submit(uow, body["patient"], dept, body["purpose"],
                                    list(dict.fromkeys(body["resource_types"])), body.get("reason"),
                                    requested_by=person())
    resp = jsonify({"id": row["id"], "status": row["status"]})
    resp.status_code = 202
    resp.headers["Location"] = url_for(".get_request", request_id=row["id"])
    return resp


@blp.get("/staff/v1/requests/<request_id>")
def get_request(request_id: str):
    require_scope("user", "Exchange", "r")
    row = queries.request_for(service().uow(write=False), request_id, department())
    if row is None:
        raise Problem(404, N_("Not Found"), N_("There is no exchange request with that id for you."))
    return jsonify(request_item(row, lang(), service().directory.name))
