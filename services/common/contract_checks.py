"""Check patient-facing JSON responses against the accessibility rules at runtime.

``CONTRACT_CHECKS`` chooses the mode: ``report`` (default) logs each violation at WARNING
and counts it in ``contract_violations_total{service,rule}``; ``enforce`` also turns the
response into a 500 problem+json listing the violations (for development and tests);
``off`` installs nothing. Only JSON responses under ``/patient/v1/`` are checked, in the
language of their ``Content-Language`` header (``en`` without one).

The rules are a pure function of the body, its language and its Content-Language header, so
the outcome of checking the same bytes is kept (the newest 512) and reused: a page served
again unchanged (the same records, the same language) costs a hash, not a walk of every string,
and every mode, ``enforce`` included, answers exactly as a fresh check would.

A fast route (services/common/fastpath.py) answers without Flask's hooks, so the checks and
the language count are also functions on ``app.extensions`` (``ContractChecks`` and
``count_language``): the hooks call them, and a fast route calls the same ones.
See docs/architecture.md, "Accessibility and equity".
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from typing import Callable, Mapping, NamedTuple

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common import measures
from services.common.i18n import Language, current_language
from services.common.lru import LruCache
from services.common.measures import Measure
from services.common.multiprocess import files_dirs, samples
from services.common.problem import PROBLEM_BASE

MODES = ("report", "enforce", "off")
PATIENT_PREFIX = "/patient/v1/"
VIOLATION_TYPE = PROBLEM_BASE + "contract-violation"
log = logging.getLogger(__name__)
#: Grades of patient text, as the reading-level rule scores them (contracts/accessibility/rules.py).
GRADE_BUCKETS = (4, 5, 6, 7, 8, 9, 10, 12, 14, 16)
PREFERRED, FALLBACK = "preferred", "fallback"
#: Languages asked for beyond this many are counted as "other": the header is anyone's to write.
MAX_LANGUAGES = 40
RATIO_HELP = ("Share of patient-facing responses served in the patient's preferred language "
              "rather than a fallback, by preferred language")


#: check(method, route, body, headers) of a patient-facing JSON response: its violations
Check = Callable[[str, str, bytes, Mapping[str, str]], list]


class ContractChecks(NamedTuple):
    """What ``install`` put on ``app.extensions["contract_checks"]``: the MODE, and the CHECK its
    hook runs on each patient-facing JSON response (None when the mode is ``off``)."""

    mode: str
    check: Check | None


def install(app: Flask, service: str, registry: CollectorRegistry, mode: str | None = None) -> str:
    """Check APP's patient-facing responses in MODE (default: $CONTRACT_CHECKS, else report)."""
    mode = (mode or os.environ.get("CONTRACT_CHECKS") or "report").strip().lower()
    if mode not in MODES:
        raise ValueError(f"CONTRACT_CHECKS must be one of {', '.join(MODES)}, not {mode!r}")
    count_languages(app, registry)
    app.extensions["contract_checks"] = ContractChecks(mode, None)
    if mode == "off":
        return mode
    from contracts.accessibility import check  # only paid for when the checks are on
    from contracts.accessibility.readability import syllable_dictionary

    # The reading-level rule's syllable dictionary takes seconds to build; build it beside
    # start-up rather than inside the first patient's request (which could then time out).
    threading.Thread(target=syllable_dictionary, name="contract-checks-warm-up", daemon=True).start()

    violations_total = Counter("contract_violations", "Patient-facing responses' contract "
                               "violations, by rule", ["service", "rule"], registry=registry)
    grades = Histogram("phr_patient_text_grade", "US school grade of patient-facing prose, as the "
                       "reading-level rule scores it, by language", ["language"], registry=registry,
                       buckets=GRADE_BUCKETS)
    children = {lang: grades.labels(lang) for lang in ("en", "es")}  # the rule scores these two

    # (violations, grades) by (body digest, locale, Content-Language)
    checked: LruCache[tuple[list, list]] = LruCache(512)

    def outcome(body: bytes, locale: str, headers: dict) -> tuple[list, list] | None:
        key = (hashlib.blake2b(body, digest_size=16).digest(), locale, headers.get("Content-Language"))
        found = checked.get(key)
        if found is None:
            try:
                payload = json.loads(body)
            except ValueError:
                return None
            graded: list[tuple[str, float]] = []
            violations = check(payload, locale=locale, headers=headers,
                               observe_grade=lambda lang, grade: graded.append((lang, grade)))
            found = checked.put(key, (violations, graded))
        return found

    def check_response(method: str, route: str, body: bytes, headers: Mapping[str, str]) -> list:
        """Check a patient-facing JSON response to METHOD on ROUTE (the rule, not the path: a
        path may hold a patient id): observe its grades, log and count its violations, and
        return them."""
        found = outcome(body, patient_locale(headers.get("Content-Language")), headers)
        if found is None:
            return []
        violations, graded = found
        for language, grade in graded:  # each response served is counted, checked afresh or not
            children[language].observe(grade)
        for violation in violations:
            log.warning("contract violation on %s %s: %s", method, route, violation)
            violations_total.labels(service, violation.rule).inc()
        return violations

    app.extensions["contract_checks"] = ContractChecks(mode, check_response)

    @app.after_request
    def _check_contract(resp: Response) -> Response:
        if not _is_patient_facing(request.path) or not resp.is_json or resp.is_streamed:
            return resp
        violations = check_response(request.method, request.url_rule.rule if request.url_rule else "unmatched",
                                    resp.get_data(), dict(resp.headers))
        if violations and mode == "enforce":
            return violation_response(violations, resp.status_code)
        return resp

    return mode


def count_languages(app: Flask, registry: CollectorRegistry) -> None:
    """Count APP's patient-facing responses by the patient's language and whether they were
    served in it; show the share served in it as ``phr_preferred_language_ratio{language}``,
    computed when read from the counts of every worker (services/common/multiprocess.py).
    The count of one response is ``app.extensions["count_language"]``."""
    served = Counter("phr_patient_responses", "Patient-facing responses by the patient's "
                     "language, served in it (preferred) or in a fallback", ["language", "outcome"],
                     registry=registry)
    seen: set[str] = set()

    def count_language(lang: Language) -> None:
        """Count one patient-facing response negotiated as LANG."""
        label = asked_language(lang)
        if label not in seen and len(seen) >= MAX_LANGUAGES:
            label = "other"
        seen.add(label)
        served.labels(label, FALLBACK if lang.fallback else PREFERRED).inc()

    app.extensions["count_language"] = count_language

    @app.after_request
    def _count_language(resp: Response) -> Response:
        if _is_patient_facing(request.path):
            count_language(current_language())
        return resp

    def preferred_language() -> list[Measure]:
        # Every worker's counts (the files), not those of the worker taking the scrape.
        counts: dict[str, dict[str, float]] = {}
        for s in samples(served, files_dirs(app.extensions.get("metrics_files", []))):
            if s.name.endswith("_total"):
                by = counts.setdefault(s.labels["language"], {})
                by[s.labels["outcome"]] = by.get(s.labels["outcome"], 0.0) + s.value
        return [Measure("phr_preferred_language_ratio", RATIO_HELP,
                        by.get(PREFERRED, 0.0) / sum(by.values()), {"language": lang})
                for lang, by in sorted(counts.items()) if sum(by.values())]

    measures.providers(app).append(preferred_language)


def asked_language(lang: Language) -> str:
    """The primary subtag of the language LANG's patient asked for ("pt" for "pt-BR"), else the one used."""
    primary = (lang.requested or "").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else lang.used


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
