"""Check patient-facing JSON responses against the accessibility rules at runtime.

``CONTRACT_CHECKS`` chooses the mode: ``report`` (default) logs each violation at WARNING
and counts it in ``contract_violations_total{service,rule}``; ``enforce`` also turns the
response into a 500 problem+json listing the violations (for development and tests);
``off`` installs nothing. Only JSON responses under ``/patient/v1/`` are checked, in the
language of their ``Content-Language`` header (``en`` without one).
See docs/architecture.md, "Accessibility and equity".
"""
from __future__ import annotations

import json
import logging
import os
import threading

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter

from services.common.problem import PROBLEM_BASE

MODES = ("report", "enforce", "off")
PATIENT_PREFIX = "/patient/v1/"
VIOLATION_TYPE = PROBLEM_BASE + "contract-violation"
log = logging.getLogger(__name__)


def install(app: Flask, service: str, registry: CollectorRegistry, mode: str | None = None) -> str:
    """Check APP's patient-facing responses in MODE (default: $CONTRACT_CHECKS, else report)."""
    mode = (mode or os.environ.get("CONTRACT_CHECKS") or "report").strip().lower()
    if mode not in MODES:
        raise ValueError(f"CONTRACT_CHECKS must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return mode
    from contracts.accessibility import check  # only paid for when the checks are on
    from contracts.accessibility.readability import syllable_dictionary

    # The reading-level rule's syllable dictionary takes seconds to build; build it beside
    # start-up rather than inside the first patient's request (which could then time out).
    threading.Thread(target=syllable_dictionary, name="contract-checks-warm-up", daemon=True).start()

    violations_total = Counter("contract_violations", "Patient-facing responses' contract "
                               "violations, by rule", ["service", "rule"], registry=registry)

    @app.after_request
    def _check_contract(resp: Response) -> Response:
        if not _is_patient_facing(request.path) or not resp.is_json or resp.is_streamed:
            return resp
        try:
            payload = json.loads(resp.get_data())
        except ValueError:
            return resp
        locale = patient_locale(resp.headers.get("Content-Language"))
        violations = check(payload, locale=locale, headers=dict(resp.headers))
        for violation in violations:
            # The route's rule, not the path: a path may hold a patient id.
            log.warning("contract violation on %s %s: %s", request.method,
                        request.url_rule.rule if request.url_rule else "unmatched", violation)
            violations_total.labels(service, violation.rule).inc()
        if violations and mode == "enforce":
            return violation_response(violations, resp.status_code)
        return resp

    return mode


def _is_patient_facing(path: str) -> bool:
    return path.startswith(PATIENT_PREFIX)


def patient_locale(content_language: str | None) -> str:
    """Return the first tag of a Content-Language header, or "en" without one."""
    first = (content_language or "").split(",")[0].strip()
    return first or "en"


def violation_response(violations: list, original_status: int) -> Response:
    """Return the 500 problem+json (RFC 9457) that replaces a response which broke the contract."""
    body = {"type": VIOLATION_TYPE, "title": "Contract violation", "status": 500,
            "detail": f"The {original_status} response broke {len(violations)} accessibility "
                      "rule(s).",
            "instance": request.path, "original_status": original_status,
            "violations": [v.to_dict() for v in violations]}
    resp = Response(json.dumps(body, ensure_ascii=False), status=500,
                    mimetype="application/problem+json")
    resp.headers["Content-Language"] = "en"
    return resp
