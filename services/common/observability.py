"""Health, readiness and Prometheus metrics for every HTTP process."""
from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from opentelemetry import trace
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)

from services.common import measures
from services.common.i18n import N_
from services.common.measures import MeasureCollector
from services.common.multiprocess import Exposition, files_dirs
from services.common.problem import Problem

log = logging.getLogger(__name__)


#: LOG_FORMAT=text gives a developer one readable line per record instead of JSON.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TraceIds(logging.Filter):
    """Add the active span's ``trace_id`` and ``span_id`` (hex, as in a traceparent) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id, record.span_id = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return f"{line} [trace {record.trace_id}]" if getattr(record, "trace_id", None) else line


def log_formatter(service: str | None = None, log_format: str | None = None) -> logging.Formatter:
    """Return the formatter of every log line: a JSON object with time, level, logger, message,
    SERVICE, the trace ids and any ``extra`` fields; text when LOG_FORMAT is ``text``.

    Also named in granian's logging configuration (services/common/serve.py), so its own lines
    join the same stream.
    """
    if (log_format or os.environ.get("LOG_FORMAT") or "json").strip().lower() == "text":
        return _TextFormatter(TEXT_FORMAT)
    from pythonjsonlogger.json import JsonFormatter
    return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"},
                         static_fields={"service": service} if service else None)


def log_handler(service: str | None = None, stream=None, log_format: str | None = None) -> logging.Handler:
    """Return a handler writing STREAM (standard error) in log_formatter()'s lines, trace ids added."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(service, log_format))
    handler.addFilter(TraceIds())
    return handler


def configure_logging(level: str = "INFO", service: str | None = None) -> None:
    """Log JSON lines (README, "Tracing and logs") for SERVICE at LEVEL, once per process."""
    logging.basicConfig(level=level, handlers=[log_handler(service)])
    # kafka-python and Alembic narrate every connection and plugin at INFO; keep their warnings.
    for noisy in ("kafka", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Authlib logs every token it issues ("Issue token %r") at DEBUG: a token is a password, so
    # its loggers stay at INFO even when a developer asks for DEBUG.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLevelName(level)))


def instrument(app: Flask, service: str, checks: dict[str, Callable[[], None]],
               facts: dict[str, Callable[[], object]] | None = None,
               metrics_token: str | None = None) -> CollectorRegistry:
    """Add /healthz, /readyz and /metrics to APP and count every request it serves.

    FACTS are shown by /readyz without deciding readiness (how many departments the service's
    directory holds, say: the demo seeding waits until each service knows the departments it
    registered). With METRICS_TOKEN, /metrics answers only a request that sends it as a bearer
    token (the gateway's is reachable from outside; Prometheus sends one with `authorization:`).
    """
    registry = CollectorRegistry()
    requests_total = Counter("http_requests_total", "HTTP requests served",
                             ["service", "method", "route", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                        ["service", "method", "route"], registry=registry,
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
    app.extensions["metrics_registry"] = registry
    # Directories of files counted by other processes of the service (multiprocess.worker_dir).
    app.extensions["metrics_files"] = []
    registry.register(MeasureCollector(measures.providers(app)))  # human measures, read at scrape
    children: dict[tuple, tuple] = {}  # labels() takes a lock and builds tuples on every call

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        """Count one request (also for requests served outside Flask's hooks: the fast paths)."""
        key = (method, route, status)
        pair = children.get(key)
        if pair is None:
            pair = (requests_total.labels(service, method, route, status),
                    latency.labels(service, method, route))
            if len(children) < 10_000:
                children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    app.extensions["observe_request"] = observe

    @app.before_request
    def _start_timer():
        g._started = time.perf_counter()

    @app.after_request
    def _count(resp: Response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        started = g.get("_started")
        if started is None:
            requests_total.labels(service, request.method, route, resp.status_code).inc()
        else:
            observe(request.method, route, resp.status_code, time.perf_counter() - started)
        return resp

    ops = Blueprint("ops", __name__)

    @ops.get("/healthz")
    def healthz():
        """Say the process is alive."""
        return jsonify(status="ok", service=service)

    @ops.get("/readyz")
    def readyz():
        """Say whether every dependency (database, broker, ...) answers."""
        results, ready = {}, True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not raise
                log.warning("readiness check %s failed: %s", name, exc)
                results[name] = f"failing: {type(exc).__name__}"
                ready = False
        shown = {}
        for name, fact in (facts or {}).items():
            try:
                shown[name] = fact()
            except Exception as exc:  # a fact it cannot read is not a reason to be unready
                shown[name] = f"unknown: {type(exc).__name__}"
        return jsonify(status="ready" if ready else "not ready", service=service,
                       checks=results, **({"facts": shown} if shown else {})), (200 if ready else 503)

    @ops.get("/metrics")
    def metrics():
        """Expose Prometheus metrics, added up over the processes that count them."""
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if metrics_token is not None and not (scheme.lower() == "bearer" and hmac.compare_digest(
                sent.strip().encode(), metrics_token.encode())):
            raise Problem(401, N_("Unauthorized"), N_("Send the metrics token of this deployment to read its measures."),
                          headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        shown = Exposition(registry, files_dirs(app.extensions["metrics_files"]))
        return Response(generate_latest(shown), mimetype=CONTENT_TYPE_LATEST)

    app.register_blueprint(ops)
    return registry
