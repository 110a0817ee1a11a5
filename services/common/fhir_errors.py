"""Errors on FHIR endpoints: problem+json that is also a FHIR OperationOutcome.

The body carries the RFC 9457 members and, as extension members (RFC 9457 section 3.2),
``resourceType: OperationOutcome`` and ``issue``, so FHIR clients and problem+json clients
both read it.
"""
from __future__ import annotations

from services.common.problem import Problem

TITLES = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
          422: "Unprocessable Content"}


def outcome_problem(status: int, detail: str, issues: list[tuple[str, str, str]]) -> Problem:
    """Return a Problem whose body is also an OperationOutcome with ISSUES (expression, message, code)."""
    return Problem(status, TITLES.get(status, "Error"), detail,
                   resourceType="OperationOutcome",
                   issue=[{"severity": "error", "code": code, "diagnostics": message,
                           "expression": [expression]} for expression, message, code in issues])
