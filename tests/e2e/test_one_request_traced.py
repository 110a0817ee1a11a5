"""One exchange request followed end to end: its trace id in the JSON logs of every process it crossed.

Cardiology asks for primary care's records of a patient who consented. The request goes
gateway -> exchange (HTTP, the outbox) -> the exchange worker (its flow consumer, which asks
consent over HTTP and records over Kafka) -> the records worker (which replies over Kafka) ->
the exchange worker again, which releases. Cardiology then downloads the Bundle: gateway ->
exchange -> consent (a fresh decision) and the records HTTP process (the prepared Bundle). That
download is a request of its own with a trace of its own, but its decision and its read of the
Bundle are the end of the exchange request and continue its trace, as the sweeper's retries do.
The client sends a traceparent of its own; the gateway starts a trace of its own instead, and
answers with it (``traceresponse``): that is the trace followed (services/common/tracing.py).
"""
from __future__ import annotations

import base64
import json
import os
import re
import time

import pytest
import requests
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tests.support.client import demo_departments, demo_patient_headers
from tests.support.stack import Stack

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"
#: The processes one exchange request crosses, as the Procfile (and each log line's service) names them.
CROSSED = ("gateway", "exchange", "exchange-worker", "consent", "records", "records-worker")
#: honcho's prefix of each line a process prints: the time, the process's name, a bar.
LINE = re.compile(r"^\S+ (?P<process>[\w-]+?)(\.\d+)?\s*\| (?P<text>.*)$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own, logging at INFO (the shared one logs warnings only)."""
    with Stack(tmp_path_factory.mktemp("stack-traced"), extra_env={"LOG_LEVEL": "INFO"}) as s:
        yield s


def _json_lines(stack: Stack) -> dict[str, list[dict]]:
    """Every JSON log line of the stack, by the process that printed it.

    The launcher's own progress lines ("demo: [3/3] imported ...") go to the same file from
    another thread and may land right after a process's line before its newline: each
    line's JSON object is read up to its end, whatever follows it."""
    lines: dict[str, list[dict]] = {}
    for raw in stack.log_path.read_text(errors="replace").splitlines():
        found = LINE.match(raw)
        if found and found["text"].startswith("{"):
            line, _end = _DECODER.raw_decode(found["text"])
            lines.setdefault(found["process"], []).append(line)
    return lines


_DECODER = json.JSONDecoder()


def test_one_exchange_requests_trace_id_is_in_the_json_logs_of_every_process_it_crossed(stack):
    who, me = demo_patient_headers(stack, 1, SCOPE)
    patient, cardiology = who["patient"], demo_departments(stack)["cardiology"]
    assert requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]}).status_code == 201

    client_trace, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    caller = SpanContext(int(client_trace, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(1))
    # Should requests be instrumented in this test process, it continues the caller's span.
    with trace.use_span(NonRecordingSpan(caller)):
        asked = cardiology.post("/exchange/v1/requests", headers={"traceparent": f"00-{client_trace}-{span_id}-01"},
                                json={"patient": patient, "purpose": "TREAT", "resource_types": ["Observation"],
                                      "reason": "Follow-up"})
    assert asked.status_code == 202, asked.text
    trace_id = asked.headers["traceresponse"].split("-")[1]
    assert trace_id != client_trace  # the gateway chose it
    assert cardiology.wait_until_done(asked.json()["id"])["status"] == "fulfilled"
    bundle = cardiology.get(f"/exchange/v1/requests/{asked.json()['id']}/bundle")
    assert bundle.status_code == 200 and bundle.json()["resourceType"] == "Bundle", bundle.text
    download_trace = bundle.headers["traceresponse"].split("-")[1]
    assert download_trace != trace_id

    deadline, seen = time.monotonic() + 20, set()
    while time.monotonic() < deadline and seen != set(CROSSED):
        logs = _json_lines(stack)
        seen = {p for p in CROSSED if any(line.get("trace_id") == trace_id for line in logs.get(p, []))}
        time.sleep(0.3)
    assert seen == set(CROSSED), f"trace {trace_id} missing from {set(CROSSED) - seen}:\n{stack.log_tail()}"
    for process in CROSSED:
        mine = [line for line in logs[process] if line.get("trace_id") == trace_id]
        assert all(line["service"] == process and line["level"] and line["logger"] and line["time"]
                   and line["message"] and len(line["span_id"]) == 16 for line in mine), mine

    # The records HTTP process served the Bundle inside the exchange request's trace; the
    # exchange's line of the download itself is in the download's own.
    assert any(line.get("route", "").startswith("/internal/v1/bundles/") for line in logs["records"]
               if line.get("trace_id") == trace_id)
    assert any(line.get("route", "").endswith("/bundle") for line in logs["exchange"]
               if line.get("trace_id") == download_trace)

    # The client's trace id is in no line at INFO or above: not continued, not named.
    (access,) = [line for line in logs["gateway"] if line.get("trace_id") == trace_id and line.get("route")]
    assert access["route"].startswith("/exchange/v1/") and "client_trace_id" not in access
    assert client_trace not in json.dumps([line for lines in logs.values() for line in lines
                                           if line.get("level") != "DEBUG"])

    said = [line for lines in logs.values() for line in lines if line.get("level") != "DEBUG"]
    assert said and not [line for line in said if patient in json.dumps(line)], "a patient id logged at INFO"


def test_the_request_that_files_an_anonymous_staff_report_logs_no_one(stack):
    from tests.support.staff import join_over_http
    member = join_over_http(stack, "log.anon", ["clinician"], "Lou Logs", "cardiology")
    headers = member.headers("en")
    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    client_trace = os.urandom(16).hex()
    sent = requests.post(f"{stack.gateway}/staff/v1/reports", timeout=30,
                         headers={**headers, "traceparent": f"00-{client_trace}-{os.urandom(8).hex()}-01"},
                         json={"kind": "safety", "text": "A near miss.", "anonymous": True})
    assert sent.status_code == 201, sent.text
    trace_id = sent.headers["traceresponse"].split("-")[1]  # the gateway starts the trace
    assert trace_id != client_trace

    deadline, mine = time.monotonic() + 20, {}
    while time.monotonic() < deadline and set(mine) != {"gateway", "exchange"}:
        mine = {p: [line for line in lines if line.get("trace_id") == trace_id]
                for p, lines in _json_lines(stack).items()}
        mine = {p: lines for p, lines in mine.items() if lines}
        time.sleep(0.3)
    assert {"gateway", "exchange"} <= set(mine), f"no line of trace {trace_id}:\n{stack.log_tail()}"
    said = json.dumps(mine)
    for secret in (claims["sub"], claims.get("fhirUser") or claims["sub"], "log.anon", "Lou Logs"):
        assert secret not in said, secret
