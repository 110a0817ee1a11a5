"""Health, readiness and Prometheus metrics for every HTTP process."""
from __future__ import annotations

import logging
import time
from typing import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)

from services.common import measures
from services.common.measures import MeasureCollector
from services.common.multiprocess import Exposition, files_dirs

log = logging.getLogger(__name__)


def configure_logging(level: str = "INFO") -> None:
    """Log one line per record with time, level, logger and message."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python and Alembic narrate every connection and plugin at INFO; keep their warnings.
    for noisy in ("kafka", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def instrument(app: Flask, service: str, checks: dict[str, Callable[[], None]],
               facts: dict[str, Callable[[], object]] | None = None) -> CollectorRegistry:
    """Add /healthz, /readyz and /metrics to APP and count every request it serves.

    FACTS are shown by /readyz without deciding readiness (how many departments the service's
    directory holds, say: the demo seeding waits until each service knows the departments it
    registered).
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
        shown = Exposition(registry, files_dirs(app.extensions["metrics_files"]))
        return Response(generate_latest(shown), mimetype=CONTENT_TYPE_LATEST)

    app.register_blueprint(ops)
    return registry
