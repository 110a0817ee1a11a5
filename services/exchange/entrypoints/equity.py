"""The equity report for the oversight team: GET /equity/v1/report (scope system/Equity.r).

Thin: parse ``?since=``, read the projection (service_layer/equity.py), let the domain compare
the groups (domain/equity.py), answer in the contract's shape (contracts/schemas/equity.py).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, jsonify, request

from contracts.schemas.equity import EquityReportSchema
from services.common.auth import require_scope
from services.common.i18n import N_
from services.common.problem import Problem
from services.exchange.domain import equity
from services.exchange.entrypoints.common import service
from services.exchange.service_layer import equity as projection

_REPORT = EquityReportSchema()
_UNITS = {"time_to_fulfil_p50": "seconds"}
blp = Blueprint("equity", __name__)


def register(app: Flask) -> None:
    """Add the equity report's route to APP."""
    app.register_blueprint(blp)


def _since() -> dt.date | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise Problem(422, N_("Unprocessable Content"), N_("The since date is not valid: use YYYY-MM-DD."),
                      slug="invalid-input", fields=["since"]) from None


@blp.get("/equity/v1/report")
def report():
    """Compare the groups of patients on every measure, as of now."""
    require_scope("system", "Equity", "r")
    since, now = _since(), dt.datetime.now(dt.timezone.utc)
    start = dt.datetime.combine(since, dt.time(), dt.timezone.utc) if since else None
    patients, exchanges = projection.load(service().uow(write=False), now, start)
    built = equity.build_report(patients, exchanges, now.date())
    return jsonify(_REPORT.dump(as_dict(built, now, since)))


def _cell(measure: str, cell: equity.Cell) -> dict:
    body = {"cases": cell.cases, "ratio": cell.ratio, "judged": cell.judged, "flagged": cell.flagged}
    if measure == "time_to_fulfil_p50":
        return {**body, "p50_seconds": cell.value}
    return {**body, "count": cell.count, "rate": cell.value}


def as_dict(built: equity.Report, now: dt.datetime, since: dt.date | None) -> dict:
    """Return the report in the shape of contracts.schemas.equity.EquityReportSchema."""
    t = built.thresholds
    return {
        "generated_at": now, "since": since,
        "thresholds": {"ratio": t.ratio, "min_cases": t.min_cases, "min_share": t.min_share},
        "measures": [{"measure": m, "label": equity.LABELS[m],
                      "better": "higher" if equity.HIGHER_IS_BETTER[m] else "lower",
                      "unit": _UNITS.get(m, "share")} for m in equity.MEASURES],
        "population": {"patients": built.patients, "exchanges": built.exchanges},
        "groupings": [{"grouping": grouping, "label": equity.LABELS[grouping],
                       "groups": [{"group": group, **{m: _cell(m, cells[m]) for m in equity.MEASURES}}
                                  for group, cells in groups.items()]}
                      for grouping, groups in built.groupings.items()],
        "flags": [{"grouping": g, "group": grp, "measure": m, "ratio": r} for g, grp, m, r in built.flags()],
    }
