"""Operations of the oversight area served by the exchange service: the equity report."""
from contracts.http import Operation, Response, problems
from contracts.schemas import equity as e

_SINCE = ({"name": "since", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
           "description": "Count only exchange requests made on or after this day (YYYY-MM-DD)."},)

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/equity/v1/report", "Compare groups of patients on activation, permitted exchanges "
              "and time to fulfil", "oversight",
              (Response(200, "Every grouping's groups, their ratio to the best group, and the flags.",
                        e.EquityReportSchema), *problems(401, 403, 422)),
              scopes=("system/Equity.r",), parameters=_SINCE),
)
