"""``GET /staff/v1/measures/gateway``: the gateway's human measures as data (page understandability
answers, the staff pulse), as every service serves its own (services/common/measures_api.py); the
gateway checks the token itself, as for the staff admin API, since it serves the route."""
from __future__ import annotations

from flask import Blueprint, jsonify

from contracts.schemas.measures import MeasuresSchema
from gateway.proxy.guard import Guard
from services.common import measures, smart
from services.common.i18n import N_
from services.common.measures_api import caller_department
from services.common.problem import Problem

NEEDED = "user/Measure.rs"
_SCHEMA = MeasuresSchema()


def create_blueprint(guard: Guard, sources: list[measures.Provider]) -> Blueprint:
    """The gateway's measures route over SOURCES (the app's providers); GUARD checks tokens."""
    bp = Blueprint("measures_api", __name__)

    @bp.get("/staff/v1/measures/gateway")
    def read():
        """The gateway's human measures the caller's department may see."""
        claims = guard.claims()
        if not smart.allows(str(claims.get("scope", "")), "user", "Measure", "rs"):
            raise Problem(403, N_("Forbidden"), N_("Your token may not do this. It needs the scope {scope}."),
                          params={"scope": NEEDED},
                          headers={"WWW-Authenticate": f'Bearer realm="phr", error="insufficient_scope", '
                                                      f'scope="{NEEDED}"'})
        guard.limit(claims)
        dept = caller_department(claims)
        found = measures.visible_to(measures.current(sources), dept)
        return jsonify(_SCHEMA.dump(measures.as_data("gateway", dept, found)))

    return bp
