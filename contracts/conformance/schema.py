"""OpenAPI conformance: schemathesis generates requests for every operation and checks each answer.

Every operation of the document is fuzzed twice, with data that fits the schema (positive:
no 5xx, a documented status code, content type and body) and with data that breaks it
(negative: no 5xx, and any documented answer fits its schema). Each call carries a valid
token of the kind the operation's ``security`` scopes ask for. Failures are grouped by what
failed and the status code, with a curl line to reproduce each (the token left out).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from contracts.conformance.client import Identity
from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed

POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
#: Identities in the order the kit prefers them when several hold an operation's scopes.
PREFERENCE = ("department", "oversight", "patient", "requester", "emergency", "admin", "clinician",
              "emergency_clinician", "privacy_officer", "records_officer", "quality", "staff_admin")
MAX_FAILURES_SHOWN = 5
TIMEOUT = 30


def load(spec: str):
    """Load the OpenAPI document from a file path or an http(s) URL."""
    if spec.startswith(("http://", "https://")):
        return schemathesis.openapi.from_url(spec)
    return schemathesis.openapi.from_path(spec)


def required_scopes(operation) -> list[str]:
    """Return the SMART scopes the operation's security requirement names ([] for a public one)."""
    return [scope for requirement in operation.definition.raw.get("security") or []
            for scope in requirement.get("smart", [])]


def _parse(scope: str) -> tuple[str, str, str] | None:
    if "/" not in scope or "." not in scope:
        return None
    context, rest = scope.split("/", 1)
    resource, _, perms = rest.rpartition(".")
    return context, resource, {"read": "rs", "write": "cud", "*": "cruds"}.get(perms, perms)


def grants(granted: list[str], needed: str) -> int:
    """Say how well GRANTED covers NEEDED: 2 literally, 1 by a wildcard, 0 not at all."""
    if needed in granted:
        return 2
    want = _parse(needed)
    if want is None:
        return 0
    context, resource, perms = want
    have: set[str] = set()
    for scope in granted:
        got = _parse(scope)
        if got and got[0] == context and (got[1] == "*" or got[1] == resource):
            have.update(got[2])
    return 1 if set(perms) <= have else 0


def caller_for(scopes: list[str], identities: dict[str, Identity]) -> Identity | None:
    """Return the identity whose token best holds one of SCOPES, the operation's alternatives
    (None when none is needed)."""
    if not scopes:
        return None
    best, best_score = None, 0
    for role in PREFERENCE:
        who = identities.get(role)
        if who is None:
            continue
        score = max(grants(who.scopes, s.replace("{type}", "*")) for s in scopes)
        if score > best_score:
            best, best_score = who, score
    if best is None:
        raise Skip(f"no credential given holds {' '.join(scopes)}")
    return best


@dataclass
class _Found:
    """Failures of one operation, one entry per (what failed, status)."""

    seen: dict[tuple[str, int], str] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)

    def no_answer(self, title: str, exc: Exception, case, mode: str) -> None:
        key = (title, 0)
        if key not in self.seen:
            self.seen[key] = (f"{title} ({mode}): {type(exc).__name__}: {exc}\n"
                              f"      reproduce: {case.as_curl_command()}")

    def add(self, failure: Failure, status: int, case, mode: str) -> None:
        key = (failure.title, status)
        if key not in self.seen:
            message = " ".join(str(failure.message or "").split())[:400]
            self.seen[key] = (f"{failure.title} ({mode}, {status}): {message}\n"
                              f"      reproduce: {case.as_curl_command()}")


def fuzz_operation(operation, ctx: Context, who: Identity | None, mode: GenerationMode,
                   session: requests.Session, found: _Found) -> int:
    """Run up to ctx.max_examples generated cases of OPERATION in MODE; return how many ran."""
    count = 0
    checks = POSITIVE_CHECKS if mode == GenerationMode.POSITIVE else NEGATIVE_CHECKS
    documents_429 = "429" in (operation.definition.raw.get("responses") or {})

    @settings(max_examples=ctx.max_examples, deadline=None, database=None, derandomize=ctx.seed is None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        nonlocal count
        count += 1
        headers = who.headers if who else {}
        try:
            response = case.call(base_url=ctx.gateway.base_url, headers=headers, session=session, timeout=TIMEOUT)
            for _ in range(3):  # an undocumented rate limit protects the deployment, not the contract: wait
                if response.status_code != 429 or documents_429:
                    break
                time.sleep(min(float(response.headers.get("Retry-After", "1") or 1), 5.0))
                response = case.call(base_url=ctx.gateway.base_url, headers=headers, session=session,
                                     timeout=TIMEOUT)
        except requests.RequestException as exc:
            found.no_answer("No answer", exc, case, mode.value)
            return
        except Exception as exc:  # a case the kit cannot send must not stop the others
            found.no_answer("Case not sent", exc, case, mode.value)
            return
        found.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                found.add(failure, response.status_code, case, mode.value)
        except Failure as failure:
            found.add(failure, response.status_code, case, mode.value)
        except Exception as exc:
            found.no_answer("Answer not checked", exc, case, mode.value)

    if ctx.seed is not None:
        run = hypothesis_seed(ctx.seed)(run)
    try:
        run()
    except Unsatisfiable:
        pass  # nothing in the operation can be made invalid (no parameters, no body)
    return count


class _Leftovers:
    """What fuzzing as patient A may leave behind that the kit can undo: consents and caregiver invites."""

    LISTS = (("/patient/v1/consents", lambda i: (i.get("status") or {}).get("code") == "active"),
             ("/patient/v1/proxies", lambda i: (i.get("status") or {}).get("code") not in ("revoked", "expired")))

    def __init__(self, ctx: Context):
        self.ctx, self.before = ctx, {}
        self.who = ctx.identities.get("patient")

    def _ids(self, path: str, keep) -> set[str]:
        resp = self.ctx.gateway.get(path + "?limit=100", self.who)
        if resp.status_code != 200:
            return set()
        return {i["id"] for i in resp.json().get("items", []) if isinstance(i, dict) and "id" in i and keep(i)}

    def __enter__(self):
        if self.who is not None:
            self.before = {path: self._ids(path, keep) for path, keep in self.LISTS}
        return self

    def __exit__(self, *exc):
        if self.who is None:
            return
        for path, keep in self.LISTS:
            for new in self._ids(path, keep) - self.before.get(path, set()):
                self.ctx.gateway.delete(f"{path}/{new}", self.who)


def run(ctx: Context) -> list[Result]:
    """Fuzz every operation of the contract document; one result per operation."""
    results: list[Result] = []
    loading = Result("openapi", "the contract document loads")
    with timed(loading):
        schema = load(ctx.spec)
        operations = []
        for item in schema.get_all_operations():
            operation = item.ok()
            operations.append(operation)
    if loading.failed:
        return [loading]
    session = requests.Session()
    with _Leftovers(ctx):
        for operation in operations:
            result = Result("openapi", operation.label)
            with timed(result):
                who = caller_for(required_scopes(operation), ctx.identities)
                found = _Found()
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    result.cases += fuzz_operation(operation, ctx, who, mode, session, found)
                answers = ", ".join(f"{code}×{n}" for code, n in sorted(found.statuses.items()))
                result.message = (f"{result.cases} cases as {who.kind + ' ' + who.label if who else 'anonymous'}"
                                  f" (answers: {answers})")
                if found.seen:
                    shown = list(found.seen.values())
                    kinds = sorted({title for title, _status in found.seen})
                    result.fail("non-conforming answers: " + ", ".join(kinds), *shown[:MAX_FAILURES_SHOWN])
            results.append(result)
    return results


