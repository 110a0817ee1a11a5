"""One trace through the hops (services/common/tracing.py) and the JSON log lines that carry it
(services/common/observability.py), against in-memory fakes."""
from __future__ import annotations

import io
import json
import logging
import os

import pytest
import requests
import sqlalchemy as sa
from opentelemetry import trace
from requests.adapters import BaseAdapter

from services.common import envelope, tracing
from services.common.consumer import IdempotentConsumer
from services.common.db import make_engine
from services.common.observability import log_handler
from services.common.outbox import OutboxRelay, enqueue, messaging_tables
from tests.unit.test_outbox_and_consumer import ListPublisher


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _parts(traceparent: str) -> tuple[str, str]:
    version, trace_id, span_id, flags = traceparent.split("-")
    # Sampled (bit 0); a trace this SDK starts also says its id is random (bit 1, trace-context level 2).
    assert version == "00" and int(flags, 16) & 1 and len(trace_id) == 32 and len(span_id) == 16
    return trace_id, span_id


@pytest.fixture(scope="module", autouse=True)
def traced():
    tracing.setup("tests", record=True)  # these tests read the spans; a process that exports records too
    yield
    # The rest of the test session runs as a process that exports nothing: no span per statement.
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    SQLAlchemyInstrumentor().uninstrument()


@pytest.fixture(scope="module")
def _exporter(traced):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # keeps no span of the tests after these


@pytest.fixture
def spans(_exporter):
    """The spans this process ends during the test, as they would be exported."""
    _exporter.clear()
    yield _exporter
    _exporter.clear()


@pytest.fixture
def db(tmp_path):
    metadata = sa.MetaData()
    outbox, processed = messaging_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    metadata.create_all(engine)
    return engine, outbox, processed


class Recording(BaseAdapter):
    """A requests transport that answers 204 and keeps the headers of what it was sent."""

    def __init__(self):
        super().__init__()
        self.sent: list[dict] = []

    def send(self, request, **kwargs):
        self.sent.append(dict(request.headers))
        answer = requests.Response()
        answer.status_code, answer.request, answer.raw = 204, request, io.BytesIO(b"")
        return answer

    def close(self):
        pass


def test_an_event_enqueued_outside_any_trace_gets_a_fresh_traceparent(db):
    engine, outbox, _ = db
    with engine.begin() as conn:
        enqueue(conn, outbox, "phr.test.v1", envelope.new_event("phr.test.happened", "/tests", "p-1", {}))
        stored = conn.execute(sa.select(outbox.c.traceparent)).scalar_one()
    _parts(stored)


def test_an_event_enqueued_while_handling_a_message_continues_its_trace_and_the_relay_sends_it_on(db):
    engine, outbox, processed = db
    caller, trace_id, caller_span = _traceparent()

    def handler(conn, event):
        enqueue(conn, outbox, "phr.test.v1", envelope.new_event("phr.test.followed", "/tests", "p-1", {}))

    consumer = IdempotentConsumer("tests.follow", engine, processed, {"phr.test.happened": handler}, ListPublisher())
    first = envelope.new_event("phr.test.happened", "/tests", "p-1", {})
    assert consumer.handle("phr.test.v1", json.dumps(first).encode(), [("traceparent", caller.encode())]) == "applied"

    publisher = ListPublisher()
    OutboxRelay(engine, outbox, publisher).run_once()
    (_topic, _key, _value, headers), = publisher.sent
    sent_trace, parent = _parts(headers["traceparent"].decode())
    assert sent_trace == trace_id and parent != caller_span  # the consumer's own span is the parent


def test_an_http_call_made_while_handling_a_message_carries_its_trace(db):
    engine, _, processed = db
    caller, trace_id, _ = _traceparent()
    transport, session = Recording(), requests.Session()
    session.mount("http://peer.test/", transport)
    consumer = IdempotentConsumer("tests.call", engine, processed, {
        "phr.test.happened": lambda conn, event: session.get("http://peer.test/ask", timeout=1)}, ListPublisher())
    consumer.handle("phr.test.v1", json.dumps(envelope.new_event("phr.test.happened", "/tests", "p-1", {})).encode(),
                    [("traceparent", caller.encode())])
    (headers,) = transport.sent
    assert _parts(headers["traceparent"])[0] == trace_id


def test_a_message_without_a_traceparent_starts_a_trace_of_its_own(db):
    engine, outbox, processed = db
    seen = []
    consumer = IdempotentConsumer("tests.fresh", engine, processed, {
        "phr.test.happened": lambda conn, event: seen.append(tracing.current_traceparent())}, ListPublisher())
    consumer.handle("phr.test.v1", json.dumps(envelope.new_event("phr.test.happened", "/tests", "p-1", {})).encode())
    assert seen[0] is not None and _parts(seen[0])


def test_a_request_served_through_the_middleware_continues_the_callers_trace_and_names_the_route():
    caller, trace_id, caller_span = _traceparent()
    seen = {}

    def app(environ, start_response):
        seen["traceparent"] = tracing.current_traceparent()
        environ[tracing.ROUTE_KEY] = "/things/<id>"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from werkzeug.test import Client
    from werkzeug.wrappers import Response
    answer = Client(tracing.TraceRequests(app), Response).get("/things/p-123", headers={"traceparent": caller})
    assert answer.status_code == 200
    inside_trace, inside_span = _parts(seen["traceparent"])
    assert inside_trace == trace_id and inside_span != caller_span
    assert tracing.current_traceparent() is None  # the request's context does not leak into the next


def _edge_app(seen: dict):
    def app(environ, start_response):
        seen["traceparent"] = tracing.current_traceparent()
        environ[tracing.ROUTE_KEY] = "/fhir/<resource_type>"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return tracing.TraceRequests(app, edge=True)


def test_at_the_edge_a_clients_traceparent_is_linked_and_never_continued(spans, caplog):
    from werkzeug.test import Client
    from werkzeug.wrappers import Response
    caller, trace_id, caller_span = _traceparent()
    seen = {}
    with caplog.at_level(logging.DEBUG, logger="phr.access"):
        answer = Client(_edge_app(seen), Response).get("/fhir/Observation?patient=p-1",
                                                       headers={"traceparent": caller})
    inside_trace, inside_span = _parts(seen["traceparent"])
    assert inside_trace != trace_id
    # The caller learns our trace from the answer, to quote it; it did not choose it.
    assert _parts(answer.headers["traceresponse"]) == (inside_trace, inside_span)
    (server,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.parent is None and f"{server.context.trace_id:032x}" == inside_trace
    (link,) = server.links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (trace_id, caller_span)
    (line, named) = [r for r in caplog.records if r.name == "phr.access"]
    assert line.route == "/fhir/<resource_type>" and not hasattr(line, "client_trace_id")
    # named at DEBUG only: at INFO it would tie together the requests a client chose to tie
    assert named.levelno == logging.DEBUG and named.client_trace_id == trace_id


@pytest.mark.parametrize("sent", [None, "00-zz-not-hex-01", "00-" + "0" * 32 + "-" + "1" * 16 + "-01"])
def test_at_the_edge_a_missing_or_invalid_traceparent_starts_a_trace_without_a_link(spans, caplog, sent):
    from werkzeug.test import Client
    from werkzeug.wrappers import Response
    seen = {}
    with caplog.at_level(logging.INFO, logger="phr.access"):
        answer = Client(_edge_app(seen), Response).get("/x", headers={"traceparent": sent} if sent else {})
    assert _parts(answer.headers["traceresponse"])[0] == _parts(seen["traceparent"])[0]
    (server,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.links == () or not server.links
    (line,) = [r for r in caplog.records if r.name == "phr.access"]
    assert not hasattr(line, "client_trace_id")


def test_an_outgoing_call_is_recorded_without_its_query_string(spans):
    transport, session = Recording(), requests.Session()
    session.mount("http://", transport)
    session.get("http://user:secret@peer.test/fhir/Observation?patient=p-1&code=abc#frag", timeout=1)
    (client,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    urls = {k: v for k, v in client.attributes.items() if k in tracing.URL_ATTRIBUTES}
    assert urls and set(urls.values()) == {"http://peer.test/fhir/Observation"}
    assert "p-1" not in str(dict(client.attributes)) and "secret" not in str(dict(client.attributes))


def test_the_gateway_sends_its_own_span_on_not_the_clients():
    caller, trace_id, caller_span = _traceparent()
    headers = {"traceparent": caller, "Accept": "application/json"}
    parent = trace.NonRecordingSpan(trace.SpanContext(int(trace_id, 16), int("ab" * 8, 16), False,
                                                      trace.TraceFlags(1)))
    with trace.use_span(parent):
        tracing.outgoing_headers(headers)
    assert headers["traceparent"] == f"00-{trace_id}-{'ab' * 8}-01"
    assert tracing.outgoing_headers({"Accept": "*/*"}) == {"Accept": "*/*"}  # no trace, nothing sent


@pytest.mark.parametrize("environ, exporting", [
    ({}, False), ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True), ({"OTEL_TRACES_EXPORTER": "none",
                                                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
])
def test_spans_are_exported_only_when_the_standard_variables_ask_for_it(environ, exporting):
    assert tracing.exporting(environ) is exporting


def _log_through(handler: logging.Handler, *records: tuple[int, str]) -> list[dict]:
    logger = logging.getLogger("tests.json-lines")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for level, message in records:
            logger.log(level, message, extra={"route": "/things/<id>"})
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in handler.stream.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_with_the_trace_id_of_the_active_span(db):
    caller, trace_id, _ = _traceparent()
    handler = log_handler("consent", io.StringIO(), log_format="json")
    with tracing.consuming([("traceparent", caller.encode())], "phr.test.v1"):
        inside = tracing.current_traceparent()
        (line,) = _log_through(handler, (logging.INFO, "decided\nin two lines"))
    assert line["trace_id"] == trace_id and line["span_id"] == _parts(inside)[1]
    assert (line["service"], line["level"], line["logger"], line["message"]) == (
        "consent", "INFO", "tests.json-lines", "decided\nin two lines")
    assert line["route"] == "/things/<id>" and line["time"].endswith("+00:00")


def test_a_log_line_outside_any_trace_has_no_trace_id():
    (line,) = _log_through(log_handler("records", io.StringIO(), log_format="json"), (logging.WARNING, "alone"))
    assert "trace_id" not in line and line["level"] == "WARNING"


def test_log_format_text_gives_a_developer_plain_lines_with_the_trace_id():
    caller, trace_id, _ = _traceparent()
    handler = log_handler("records", io.StringIO(), log_format="text")
    logger = logging.getLogger("tests.text-lines")
    logger.addHandler(handler)
    try:
        with tracing.consuming([("traceparent", caller.encode())], "phr.test.v1"):
            logger.warning("plain")
    finally:
        logger.removeHandler(handler)
    line = handler.stream.getvalue().strip()
    assert " WARNING tests.text-lines: plain" in line and line.endswith(f"[trace {trace_id}]")


def test_granians_own_lines_are_json_in_the_same_stream(capsys):
    import logging.config

    from services.common import serve
    config = serve.settings("127.0.0.1:8080", "m:f", 1, {})["log_dictconfig"]
    logging.config.dictConfig(config)
    try:
        logging.getLogger("_granian").warning("Listening at: http://127.0.0.1:8080")
    finally:
        logging.getLogger("_granian").handlers.clear()
    line = json.loads(capsys.readouterr().err.strip())
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "_granian", "Listening at: http://127.0.0.1:8080")


def test_with_an_otlp_endpoint_the_process_exports_its_spans_in_batches():
    import subprocess
    import sys
    code = ("from opentelemetry import trace; from services.common import tracing; "
            "tracing.setup('tests', {'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}); "
            "processors = trace.get_tracer_provider()._active_span_processor._span_processors; "
            "print([(type(p).__name__, type(p._batch_processor._exporter).__name__) for p in processors])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('BatchSpanProcessor', 'OTLPSpanExporter')]"


def test_a_retry_resumes_the_trace_kept_with_its_row_and_without_one_starts_its_own():
    caller, trace_id, _ = _traceparent()
    with tracing.resumed(caller, "exchange retry"):
        inside = tracing.current_traceparent()
    assert _parts(inside)[0] == trace_id and inside != caller  # the same trace, a span of its own
    with tracing.resumed(None, "exchange retry"):
        alone = tracing.current_traceparent()
    assert alone is not None and _parts(alone)[0] != trace_id
    assert tracing.current_traceparent() is None  # nothing left attached after either


def test_work_resumed_for_a_row_inside_another_request_continues_the_rows_trace_and_links_the_request(spans):
    row, row_trace, _ = _traceparent()
    request, request_trace, _ = _traceparent()
    with tracing.resumed(request, "GET /bundle"):  # the download's own span, current when the work starts
        here = _parts(tracing.current_traceparent())
        with tracing.resumed(row, "exchange bundle download", linked=True):
            inside = tracing.current_traceparent()
    assert _parts(inside)[0] == row_trace
    (done,) = [s for s in spans.get_finished_spans() if s.name == "exchange bundle download"]
    (link,) = done.links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (request_trace, here[1])
    with tracing.resumed(row, "exchange retry"):  # not linked unless asked
        pass
    assert [s.links for s in spans.get_finished_spans() if s.name == "exchange retry"] == [()]


def test_a_refusal_told_to_the_client_does_not_mark_the_resumed_work_failed_and_an_error_does(spans):
    from services.common.problem import Problem
    row, _trace, _ = _traceparent()
    for name, raised in (("refused", Problem(403, "Forbidden", "No.")), ("broken", RuntimeError("boom"))):
        with pytest.raises(type(raised)):
            with tracing.resumed(row, name):
                raise raised
    done = {s.name: s for s in spans.get_finished_spans()}
    assert done["refused"].status.status_code == trace.StatusCode.UNSET and not done["refused"].events
    assert done["broken"].status.status_code == trace.StatusCode.ERROR and done["broken"].events


def test_without_an_exporter_spans_are_only_ids_a_parents_trace_or_a_new_sampled_one():
    import subprocess
    import sys
    code = ("from opentelemetry import trace; from services.common import tracing; "
            "tracing.setup('tests', {}); "
            "caller = '00-' + 'ab' * 16 + '-' + 'cd' * 8 + '-01'; "
            "inside = tracing.resumed(caller, 'x'); span = inside.__enter__(); "
            "print(tracing.current_traceparent(), span.is_recording()); inside.__exit__(None, None, None); "
            "root = tracing.resumed(None, 'x'); root.__enter__(); print(tracing.current_traceparent()); "
            "print(type(trace.get_tracer_provider()).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    continued, root, provider = done.stdout.strip().splitlines()
    traceparent, recording = continued.split()
    assert recording == "False" and _parts(traceparent)[0] == "ab" * 16 and _parts(traceparent)[1] != "cd" * 8
    assert _parts(root)[0] not in ("ab" * 16, "0" * 32) and root.endswith("-03")
    assert provider == "ProxyTracerProvider"  # nothing set globally: a later setup may still record


def test_when_spans_are_recorded_each_sql_statement_is_a_span_without_its_values_on_every_engine():
    """Engines made before setup() (as bootstraps make them) and after it, on SQLAlchemy 2.1,
    which the instrumentation's release does not name."""
    import subprocess
    import sys
    code = ("import sqlalchemy as sa; from opentelemetry import trace; "
            "from opentelemetry.sdk.trace.export import SimpleSpanProcessor; "
            "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter; "
            "from services.common import db, tracing; "
            "before = db.make_engine('sqlite://'); tracing.setup('tests', {}, record=True); "
            "after = db.make_engine('sqlite://'); ex = InMemorySpanExporter(); "
            "trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(ex)); "
            "[e.connect().execute(sa.text('select :who'), {'who': 'p-secret-1'}).all() for e in (before, after)]; "
            "print([(s.name, s.attributes.get('db.statement')) for s in ex.get_finished_spans() "
            "if s.name == 'select'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('select', 'select ?'), ('select', 'select ?')]"
    assert "p-secret-1" not in done.stdout + done.stderr


def test_without_recording_no_sql_statement_is_traced():
    import subprocess
    import sys
    code = ("from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor; "
            "from services.common import db, tracing; "
            "db.make_engine('sqlite://'); tracing.setup('tests', {}); db.make_engine('sqlite://'); "
            "print(SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # a statement costs nothing more when nothing is exported
