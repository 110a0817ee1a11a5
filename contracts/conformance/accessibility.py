"""Accessibility and language: the rules of contracts.accessibility on every patient-facing GET.

Each patient-facing GET operation of the contract is called as patient A in every supported
language (``Accept-Language``); the answer must be 200, in that language (Content-Language),
and break none of the rules. Operations that read one item ({id}) read the first item of
their list, and also ask for an id that does not exist: the 404 is read by patients too.
"""
from __future__ import annotations

from collections import Counter

from contracts import accessibility
from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed
from contracts.conformance.schema import load

MISSING_ID = "phr-conformance-no-such-id"
CONTENT_LANGUAGE = "content-language-matches"


def patient_reads(schema) -> list[str]:
    """Return the paths of the patient-facing GET operations (x-patient-facing, or under /patient/)."""
    paths = []
    for item in schema.get_all_operations():
        op = item.ok()
        if op.method.upper() == "GET" and (op.definition.raw.get("x-patient-facing") or op.path.startswith("/patient/")):
            paths.append(op.path)
    return paths


def judge(body, headers, language: str) -> list[str]:
    """Return the violations of BODY and HEADERS for LANGUAGE, each as 'rule at path: message'."""
    found = [str(v) for v in accessibility.check(body, locale=language, headers=headers)]
    served = (headers.get("Content-Language") or "").split(",")[0].strip()
    if served and accessibility.language_of(served) != language:
        found.append(f"{CONTENT_LANGUAGE} at header:Content-Language: asked for {language}, "
                     f"answered in {served!r}")
    return found


def _concrete(ctx: Context, path: str, who) -> str:
    """Fill the {id} of PATH with the first item of its list; Skip when the list is empty."""
    head = path.split("/{", 1)[0]
    resp = ctx.gateway.get(head, who)
    items = resp.json().get("items") if resp.status_code == 200 else None
    if not items:
        raise Skip(f"GET {head} has no item whose {path[len(head):]} could be read")
    return path.replace(path[len(head):].split("/")[1], str(items[0]["id"]), 1)


def _check(ctx: Context, result: Result, path: str, who, language: str, expect: int) -> None:
    resp = ctx.gateway.get(path, who, headers={"Accept-Language": language})
    if resp.status_code != expect:
        result.fail(f"GET {path} answered {resp.status_code}, expected {expect}")
        return
    try:
        body = resp.json()
    except ValueError:
        result.fail(f"GET {path} is not JSON ({resp.headers.get('Content-Type')})")
        return
    found = judge(body, resp.headers, language)
    if found:
        rules = Counter(v.split(" ", 1)[0] for v in found)
        result.fail(f"GET {path} breaks " + ", ".join(f"{rule} ({n})" for rule, n in sorted(rules.items())),
                    *found[:8])


def ask_patient_to_share(ctx: Context) -> None:
    """Have a clinician ask patient A to share, so that a sharing request can be read: a patient
    has one only once a department's staff asked. Without a clinician it is not read."""
    if not (ctx.has("clinician") and ctx.has("patient")):
        return
    resp = ctx.gateway.post("/staff/v1/sharing-requests", ctx.identity("clinician"), json={
        "patient": ctx.identity("patient").patient, "classes": ["Immunization"], "purposes": ["TREAT"],
        "period": {"days": 7}, "reason": "We want to check your shots before your visit."})
    if resp.status_code not in (201, 409):  # 409: one like it is waiting for the patient already
        raise AssertionError(f"a clinician asking patient A to share answered {resp.status_code}: {resp.text[:300]}")


def report_a_problem(ctx: Context) -> None:
    """Have patient A report a problem, so that one of their reports can be read."""
    resp = ctx.gateway.post("/patient/v1/reports", ctx.identity("patient"), json={
        "kind": "system-problem", "text": "A page was slow to load.", "about": {"page": "/portal"}})
    if resp.status_code != 201:
        raise AssertionError(f"patient A reporting a problem answered {resp.status_code}: {resp.text[:300]}")


def run(ctx: Context) -> list[Result]:
    """Check every patient-facing read in every language; one result per operation and language."""
    results = []
    try:
        paths = patient_reads(load(ctx.spec))
    except Exception as exc:
        return [Result("accessibility", "the contract document loads").fail(str(exc))]
    setup = Result("accessibility", "a clinician asks patient A to share (to read the request)")
    with timed(setup):
        if not ctx.has("clinician"):
            raise Skip(f"needs {ctx.missing.get('clinician', 'a clinician')}")
        ask_patient_to_share(ctx)
    results.append(setup)
    filed = Result("accessibility", "patient A reports a problem (to read the report)")
    with timed(filed):
        if not ctx.has("patient"):
            raise Skip(f"needs {ctx.missing.get('patient', 'patient A')}")
        report_a_problem(ctx)
    results.append(filed)
    for path in paths:
        for language in ctx.languages:
            result = Result("accessibility", f"GET {path} [{language}]")
            with timed(result):
                who = ctx.identity("patient")
                concrete = _concrete(ctx, path, who) if "{" in path else path
                _check(ctx, result, concrete, who, language, 200)
                if "{" in path:
                    missing = path.replace(path[len(path.split("/{", 1)[0]):].split("/")[1], MISSING_ID, 1)
                    _check(ctx, result, missing, who, language, 404)
            results.append(result)
    return results
