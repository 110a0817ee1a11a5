"""One trace per request, followed through every hop (W3C Trace Context; README, "Tracing and logs").

The trace starts at the first HTTP request (the client's ``traceparent`` when it sends one),
and travels: into each event that request causes (the outbox keeps the traceparent with the
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

SQLAlchemy's instrumentation is not used: its release here supports SQLAlchemy below 2.1.

Nothing is exported unless asked: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp)
turns on OTLP over HTTP, configured by the standard OTEL_* variables.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterable, Mapping

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)
access = logging.getLogger("phr.access")

#: The WSGI environ key where whichever layer answered (a fast path, Flask) leaves the route's
#: rule: the span's name and the access line's route, never the path (it may hold a patient id).
ROUTE_KEY = "phr.route"

#: Routes machines poll every second or so (probes, scrapes, the revocation feed): their
#: access lines are DEBUG, so that INFO shows what people and services asked for.
POLLED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics", "/oauth/revoked"})

_PROPAGATOR = TraceContextTextMapPropagator()
_state: dict[str, object] = {}


def exporting(environ: Mapping[str, str]) -> bool:
    """Say whether ENVIRON asks for OTLP export of spans (the standard OTEL_* variables)."""
    chosen = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        return "otlp" in chosen.split(",")
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(service: str, environ: Mapping[str, str] | None = None) -> None:
    """Install this process's tracer provider and the requests instrumentation, once per process.

    Called from each process's bootstrap; a second call (a test building a second app) does nothing.
    """
    if "provider" in _state:
        return
    environ = os.environ if environ is None else environ
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporting(environ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("exporting spans over OTLP")
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    RequestsInstrumentor().instrument(tracer_provider=provider)
    _state["provider"], _state["tracer"] = provider, provider.get_tracer("phr")


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


class consuming:
    """Context manager: handle one Kafka message inside a consumer span continuing its traceparent."""

    def __init__(self, headers: list[tuple[str, bytes]] | None, topic: str):
        self.headers, self.topic = headers or [], topic

    def __enter__(self) -> trace.Span:
        parent = _PROPAGATOR.extract(self.headers, getter=_FROM_HEADERS)
        self.span = tracer().start_span(f"{self.topic} process", context=parent, kind=SpanKind.CONSUMER,
                                        attributes={"messaging.system": "kafka",
                                                    "messaging.destination.name": self.topic})
        self.token = context.attach(trace.set_span_in_context(self.span, parent))
        return self.span

    def __exit__(self, kind, exc, tb) -> None:
        if exc is not None:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        context.detach(self.token)
        self.span.end()


class TraceRequests:
    """WSGI middleware, outermost: serve each request in a server span that continues the
    caller's traceparent, and log one access line (method, route rule, status, duration)."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        parent = _PROPAGATOR.extract(environ, getter=_FROM_ENVIRON) if "HTTP_TRACEPARENT" in environ else None
        span = tracer().start_span(method, context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        answered: list[str] = []

        def start(status: str, headers: list, exc_info=None):
            answered.append(status)
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
            context.detach(token)
            span.end()


def trace_app(app) -> None:
    """Wrap APP's WSGI callable (fast paths included) in TraceRequests; Flask names the route."""
    from flask import request

    @app.after_request
    def _name_route(resp):
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule
        return resp

    app.wsgi_app = TraceRequests(app.wsgi_app)
