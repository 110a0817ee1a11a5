"""HTTP entrypoint of the consent service: parse, call a handler, map errors to problems."""
from __future__ import annotations

from flask import Flask
from prometheus_client import Histogram

from services.common import machines, measures, tracing
from services.common.config import load_settings
from services.common.db import ping
from services.common.fastpath import FastRoutes
from services.common.http import service_app
from services.common.kafka import broker_reachable
from services.common.outbox import ParkedEvents
from services.consent.adapters.tables import outbox
from services.consent.bootstrap import bootstrap
from services.consent.entrypoints import departments, fhir, patient, sharing
from services.consent.entrypoints.fastpath import fast_decide
from services.consent.entrypoints.worker import consumer_specs
from services.consent.service_layer import measures as human_measures


def create_app(test_config: dict | None = None) -> Flask:
    """Create the consent app: settings, then TEST_CONFIG overrides (engine, validator, clock)."""
    test_config = test_config or {}
    settings = test_config.get("settings") or load_settings("consent")
    consent = bootstrap(settings, test_config.get("engine"), test_config.get("clock"))
    app = service_app(__name__, settings, {
        "database": lambda: ping(consent.engine),
        "broker": lambda: broker_reachable(settings.kafka_bootstrap),
    }, test_config.get("validator"), directory=consent.directory)
    app.extensions["consent"] = consent
    app.extensions["metrics_registry"].register(ParkedEvents(consent.engine, outbox, settings.service))
    # The worker's own table of groups (built, not run), so that the two cannot drift.
    machines.install(app, settings, consent.engine, outbox,
                     {spec.group: spec.topics for spec in consumer_specs(consent, None)})
    consent.decision_seconds = Histogram(
        "phr_decision_duration_seconds", "Time to answer a consent decision (permit or deny)",
        registry=app.extensions["metrics_registry"],
        buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1)).observe

    def consent_measures():
        return human_measures.current(consent.uow(write=False), consent.clock())

    measures.providers(app).append(measures.Cached(consent_measures))  # a scrape storm reads once
    patient.register(app)
    departments.register(app)
    fhir.register(app)
    sharing.register(app)
    app.wsgi_app = FastRoutes(app.wsgi_app, [fast_decide(consent, app.extensions["token_validator"])],
                              app.extensions["observe_request"])
    tracing.trace_app(app)  # outermost: the fast path's requests are traced too
    return app
