"""HTTP entrypoint of the consent service: parse, call a handler, map errors to problems."""
from __future__ import annotations

from flask import Flask

from services.common import measures
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

    def consent_measures():
        return human_measures.current(consent.uow(write=False), consent.clock())

    measures.providers(app).append(consent_measures)
    patient.register(app)
    departments.register(app)
    fhir.register(app)
    sharing.register(app)
    app.wsgi_app = FastRoutes(app.wsgi_app, [fast_decide(consent, app.extensions["token_validator"])],
                              app.extensions["observe_request"])
    return app
