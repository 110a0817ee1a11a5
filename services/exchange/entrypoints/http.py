"""HTTP entrypoint of the exchange service: department requests, the ledger, the patient's views,
the equity report."""
from __future__ import annotations

from flask import Flask

from services.common import machines, measures, tracing
from services.common.config import load_settings
from services.common.db import ping
from services.common.http import service_app
from services.common.kafka import broker_reachable
from services.common.outbox import ParkedEvents
from services.exchange.adapters.report_measures import report_measures
from services.exchange.adapters.tables import outbox
from services.exchange.bootstrap import bootstrap
from services.exchange.entrypoints import departments, equity, notices, patient, reports, staff, subscriptions
from services.exchange.entrypoints.worker import consumer_specs
from services.exchange.service_layer import measures as human_measures


def create_app(test_config: dict | None = None) -> Flask:
    """Create the exchange app: settings, then TEST_CONFIG overrides (settings, engine, validator,
    consent, records)."""
    test_config = test_config or {}
    settings = test_config.get("settings") or load_settings("exchange")
    exchange = bootstrap(settings, test_config.get("engine"), test_config.get("consent"),
                         test_config.get("records"), hook=test_config.get("hook"))
    app = service_app(__name__, settings, {
        "database": lambda: ping(exchange.engine),
        "broker": lambda: broker_reachable(settings.kafka_bootstrap),
    }, test_config.get("validator"), directory=exchange.directory)
    app.extensions["exchange"] = exchange
    app.extensions["metrics_registry"].register(ParkedEvents(exchange.engine, outbox, settings.service))
    # The worker's own table of groups (built, not run), so that the two cannot drift.
    machines.install(app, settings, exchange.engine, outbox,
                     {spec.group: spec.topics for spec in consumer_specs(exchange, None)})

    def exchange_measures():
        return human_measures.current(exchange.uow(write=False), exchange.flow.clock())

    measures.providers(app).append(measures.Cached(exchange_measures))  # a scrape storm reads once
    departments.register(app)
    patient.register(app)
    notices.register(app)
    equity.register(app)
    staff.register(app)
    reports.register(app)
    subscriptions.register(app)
    measures.providers(app).append(measures.Cached(report_measures(exchange.engine, lambda: exchange.flow.clock())))
    tracing.trace_app(app)
    return app
