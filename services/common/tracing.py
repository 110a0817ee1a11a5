"""One trace per request, followed through every hop (W3C Trace Context; README, "Tracing and logs").

The trace starts at the gateway, and travels: into each event that request causes (the outbox keeps the traceparent with the
row, services/common/outbox.py), in the ``traceparent`` header of the Kafka message the relay
publishes, into the consumer that handles it (services/common/consumer.py), and on into the
events and HTTP calls that consumer makes.

OpenTelemetry's API and SDK make the spans; requests is instrumented by its OpenTelemetry
instrumentation. Three hops are propagated by hand, each for a reason:

- HTTP servers: the fast paths (services/common/fastpath.py, gateway/proxy/fastpath.py)
  answer in front of Flask, where the Flask instrumentation never sees a request; one WSGI
  middleware outermost (TraceRequests) covers both, and costs a few microseconds.
- Kafka: kafka-python's instrumentation wraps ``KafkaConsumer.__next__`` (our consumers
  poll()) and injects the *current* context on send, but the relay publishes later, from
  another process, with the traceparent stored on the outbox row.
- The gateway's proxy calls its services over its own HTTP client (gateway/proxy/wire.py),
  not requests; it sends ``outgoing_headers()``.

The gateway is the edge: it starts a new trace for every request, whatever the client sends
(TraceRequests(edge=True)). A client's ``traceparent`` is only *linked* to the gateway's span
and named in a DEBUG line (``client_trace_id``), never continued: otherwise a caller would
choose our trace ids (colliding with another request's, or tying their own requests together
in our logs across patients). The gateway answers with its own trace in a ``traceresponse``
header (trace-context level 2), so a caller can still quote it. The services continue the
``traceparent`` they are sent: in this deployment only the gateway is reachable from outside
(docker-compose.yml publishes no other port), so whoever calls a service directly is one of
ours. A deployment that exposes a service must put it behind the gateway, or serve it with
``edge=True`` too.

No span records a query string, which may carry a code, a token or a patient id: the server
spans name the route's rule, and the requests instrumentation's ``http.url``/``url.full`` is cut
to scheme, host and path (without_query).

When spans are recorded, OpenTelemetry's SQLAlchemy instrumentation gives each statement a span
(the statement with its placeholders, never its values). Its release says it supports SQLAlchemy
below 2.1; it is installed without that check, and tests/unit/test_tracing_and_logs.py shows it
works on the 2.1 this project runs.

Nothing is exported unless asked: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp)
turns on OTLP over HTTP, configured by the standard OTEL_* variables. Without it no span is
recorded, only ids are made (setup() says why).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)
access = logging.getLogger("phr.access")

#: The WSGI environ key where whichever layer answered (a fast path, Flask) leaves the route's
#: rule: the span's name and the access line's route, never the path (it may hold a patient id).
ROUTE_KEY = "phr.route"

#: Routes machines poll every second or so (probes, scrapes, the revocation feed): their
#: access lines are DEBUG, so that INFO shows what people and services asked for.
POLLED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics", "/oauth/revoked"})

#: The attributes in which HTTP instrumentations record a URL (old and new semantic conventions).
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")

_PROPAGATOR = TraceContextTextMapPropagator()
_state: dict[str, object] = {}


def exporting(environ: Mapping[str, str]) -> bool:
    """Say whether ENVIRON asks for OTLP export of spans (the standard OTEL_* variables)."""
    chosen = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        return "otlp" in chosen.split(",")
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(service: str, environ: Mapping[str, str] | None = None, record: bool | None = None) -> None:
    """Install this process's tracer and the requests instrumentation, once per process.

    Spans are RECORDed (by OpenTelemetry's SDK) when they are exported (exporting(ENVIRON)), or
    when a caller asks (the tests that read spans); otherwise the tracer only makes ids
    (_IdsOnlyTracer): the logs' trace ids, the traceparent of every hop and the traceresponse
    are the same, and a request costs a few microseconds instead of the SDK's 15 to 20 (about a
    fifth of a consent decision's CPU). Without the SDK the OTEL_TRACES_SAMPLER variables do not
    apply: every trace is sampled, which only the flags of a traceparent show, since nothing is
    exported. Called from each process's bootstrap; a second call does nothing, unless it asks
    to record where the first did not.
    """
    environ = os.environ if environ is None else environ
    record = exporting(environ) if record is None else record
    if "tracer" in _state and (_state["recording"] or not record):
        return
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    instrumentor = RequestsInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # instrumented with the ids-only tracer: again with the SDK's
    if record:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if exporting(environ):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            log.info("exporting spans over OTLP")
        trace.set_tracer_provider(provider)
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from services.common.db import made_engines
        # Engines made from now on (create_engine is wrapped) and those made before.
        SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True, engines=made_engines())
    else:
        provider = _IdsOnlyProvider()  # not the global provider: a later setup may still record
    instrumentor.instrument(tracer_provider=provider, request_hook=_scrub_request_url)
    _state["tracer"], _state["recording"] = provider.get_tracer("phr"), record


class _IdsOnlyTracer(trace.NoOpTracer):
    """A tracer that records nothing and still gives every span ids of its own: its parent's
    trace (or a new one at a root) and a new span id, sampled, as the SDK would give them.

    Written here because the API's no-op tracer hands back its parent's span (no span id of its
    own, no trace at a root), and the SDK's cheapest unrecorded span (a sampler that drops)
    is marked unsampled and still costs most of a recorded one.
    """

    _ROOT_FLAGS = trace.TraceFlags(trace.TraceFlags.SAMPLED | trace.TraceFlags.RANDOM_TRACE_ID)

    def __init__(self):
        self._ids = RandomIdGenerator()

    def start_span(self, name, context=None, kind=SpanKind.INTERNAL, attributes=None, links=None,
                   start_time=None, record_exception=True, set_status_on_exception=True) -> trace.Span:
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        else:
            trace_id, flags, state = self._ids.generate_trace_id(), self._ROOT_FLAGS, None
        return trace.NonRecordingSpan(trace.SpanContext(trace_id, self._ids.generate_span_id(), False,
                                                        flags, state))


class _IdsOnlyProvider(trace.NoOpTracerProvider):
    """Hands out one _IdsOnlyTracer (for ours and the requests instrumentation)."""

    def __init__(self):
        self._tracer = _IdsOnlyTracer()

    def get_tracer(self, *args, **kwargs) -> trace.Tracer:
        return self._tracer


def without_query(url: str) -> str:
    """URL without its query string and fragment (nor any user:password): scheme, host, path."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _scrub_request_url(span: trace.Span, request) -> None:
    """requests' hook, run as its client span starts: record the URL without its query."""
    # The instrumentation has set the attribute already (only user:password removed, and a few
    # cloud signature parameters); a span is exported when it ends, with what it holds then.
    recorded = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        if key in recorded:
            span.set_attribute(key, without_query(str(recorded[key])))


def tracer() -> trace.Tracer:
    """Return this platform's tracer (a proxy, no-op until setup(), before it)."""
    # Kept: get_tracer() builds a new tracer each call, about as costly as a span.
    return _state.get("tracer") or trace.get_tracer("phr")


def current_traceparent() -> str | None:
    """Return the traceparent of the span now active (trace-context section 3.2), or None."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def outgoing_headers(headers: dict[str, str]) -> dict[str, str]:
    """Set HEADERS' traceparent to the active span's (replacing the caller's); return HEADERS."""
    traceparent = current_traceparent()
    if traceparent:
        headers.pop("traceparent", None)
        headers["traceparent"] = traceparent
    return headers


class _EnvironGetter:
    """Read a W3C header from a WSGI environ (``traceparent`` is ``HTTP_TRACEPARENT``)."""

    def get(self, environ: dict, key: str) -> list[str] | None:
        value = environ.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if value else None

    def keys(self, environ: dict) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_")]


class _HeaderListGetter:
    """Read a header from Kafka's list of (name, bytes) pairs."""

    def get(self, headers: list, key: str) -> list[str] | None:
        found = [v.decode("latin-1") for k, v in headers if k == key and v]
        return found or None

    def keys(self, headers: list) -> list[str]:
        return [k for k, _ in headers]


_FROM_ENVIRON, _FROM_HEADERS = _EnvironGetter(), _HeaderListGetter()


class _ContinuedSpan:
    """Context manager: a span (from _start) made current for the block and ended after it,
    with the block's exception recorded on it."""

    def _start(self) -> tuple[trace.Span, context.Context]:
        raise NotImplementedError

    def __enter__(self) -> trace.Span:
        self.span, parent = self._start()
        self.token = context.attach(trace.set_span_in_context(self.span, parent))
        return self.span

    def __exit__(self, kind, exc, tb) -> None:
        # A refusal the client is told of (a Problem below 500: consent withdrawn, a Bundle gone)
        # is an answer, not a failure of the work.
        if exc is not None and getattr(exc, "status", 500) >= 500:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        context.detach(self.token)
        self.span.end()


class resumed(_ContinuedSpan):
    """Context manager: a span continuing TRACEPARENT, one kept with a row (an exchange request's,
    retried by the sweeper long after its HTTP request ended), or a trace of its own without one.
    LINKED: the span also links the span current when it starts (the HTTP request that does
    this work for the row), so each trace leads to the other."""

    def __init__(self, traceparent: str | None, name: str, linked: bool = False):
        self.traceparent, self.name, self.linked = traceparent, name, linked

    def _start(self):
        parent = _PROPAGATOR.extract({"traceparent": self.traceparent} if self.traceparent else {})
        here = trace.get_current_span().get_span_context() if self.linked else None
        links = [Link(here, {"phr.link": "request"})] if here is not None and here.is_valid else None
        return tracer().start_span(self.name, context=parent, kind=SpanKind.INTERNAL, links=links), parent


class consuming(_ContinuedSpan):
    """Context manager: handle one Kafka message inside a consumer span continuing its traceparent."""

    def __init__(self, headers: list[tuple[str, bytes]] | None, topic: str):
        self.headers, self.topic = headers or [], topic

    def _start(self):
        parent = _PROPAGATOR.extract(self.headers, getter=_FROM_HEADERS)
        return tracer().start_span(f"{self.topic} process", context=parent, kind=SpanKind.CONSUMER,
                                   attributes={"messaging.system": "kafka",
                                               "messaging.destination.name": self.topic}), parent


def _traceresponse(span: trace.Span) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class TraceRequests:
    """WSGI middleware, outermost: serve each request in a server span, and log one access line
    (method, route rule, status, duration).

    Inside (EDGE false) the span continues the caller's traceparent. At the EDGE it starts a
    new trace, links the client's traceparent (when valid) without continuing it, and answers
    with the new trace in a ``traceresponse`` header (the module's docstring says why).
    """

    def __init__(self, app: Callable, edge: bool = False):
        self.app, self.edge = app, edge

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        sent = _PROPAGATOR.extract(environ, getter=_FROM_ENVIRON) if "HTTP_TRACEPARENT" in environ else None
        client: trace.SpanContext | None = None
        if self.edge:
            client = trace.get_current_span(sent).get_span_context() if sent is not None else None
            client = client if client is not None and client.is_valid else None
            parent = context.Context()  # a root span, whatever is current
            span = tracer().start_span(method, context=parent, kind=SpanKind.SERVER,
                                       links=[Link(client, {"phr.link": "client"})] if client else None)
        else:
            parent = sent
            span = tracer().start_span(method, context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        answered: list[str] = []

        def start(status: str, headers: list, exc_info=None):
            answered.append(status)
            if self.edge and span.get_span_context().is_valid:
                headers = [(k, v) for k, v in headers if k.lower() != "traceresponse"]
                headers.append(("traceresponse", _traceresponse(span)))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            route = environ.get(ROUTE_KEY, "unmatched")
            status = int(answered[0][:3]) if answered else 500
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            level = logging.DEBUG if route in POLLED_ROUTES and status < 400 else logging.INFO
            if access.isEnabledFor(level):
                access.log(level, "%s %s %d %.1f ms", method, route, status,
                           (time.perf_counter() - started) * 1000,
                           extra={"http_method": method, "route": route, "status": status})
            if client is not None and access.isEnabledFor(logging.DEBUG):
                # at DEBUG only: a client that sends one trace id with all of a person's requests
                # would otherwise tie them together in our INFO logs, an anonymous report's
                # request with that person's named ones (hex digits only: the propagator
                # refuses anything else)
                access.debug("the client's trace", extra={"client_trace_id": f"{client.trace_id:032x}"})
            context.detach(token)
            span.end()


def trace_app(app, edge: bool = False) -> None:
    """Wrap APP's WSGI callable (fast paths included) in TraceRequests (at the EDGE for the
    gateway); Flask names the route."""
    from flask import request

    @app.after_request
    def _name_route(resp):
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule
        return resp

    app.wsgi_app = TraceRequests(app.wsgi_app, edge=edge)
