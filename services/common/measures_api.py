"""``GET /staff/v1/measures/<service>``: a service's human measures as data for the staff
console's dashboard (contracts/schemas/measures.py), the same values its /metrics shows.

Scope ``user/Measure.rs`` (quality staff and privacy officers; no wildcard covers it); the
caller's department (the token's ``dept``) decides which department-labelled figures it gets.
"""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from contracts.schemas.measures import MeasuresSchema
from services.common import measures
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem

_SCHEMA = MeasuresSchema()


def caller_department(claims: dict) -> str:
    """The department of a member of staff's CLAIMS, or a 403."""
    dept = claims.get("dept")
    if not isinstance(dept, str) or not dept:
        raise Problem(403, N_("Forbidden"), N_("Only a department's staff may read the measures."))
    return dept


def register(app: Flask, service: str) -> None:
    """Serve APP's measures (services/common/measures.py providers) as SERVICE's."""
    bp = Blueprint("measures_api", __name__)

    @bp.get(f"/staff/v1/measures/{service}")
    def read():
        """The service's human measures the caller's department may see."""
        dept = caller_department(require_scope("user", "Measure", "rs"))
        found = measures.visible_to(measures.current(measures.providers(app)), dept)
        return jsonify(_SCHEMA.dump(measures.as_data(service, dept, found)))

    app.register_blueprint(bp)
