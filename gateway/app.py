"""Flask app factory of the gateway: ``python -m services.common.serve HOST:PORT gateway.app:create_app``."""
from __future__ import annotations

import dataclasses

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import portal
from gateway.bootstrap import DEFAULTS, bootstrap, readiness_checks
from gateway.portal import page_answers, pulse
from gateway.proxy.fastpath import FastPath
from gateway.schema import outbox
from services.common import i18n, machines, measures, tracing
from services.common.config import Settings, load_settings
from services.common.http import StrictJSONProvider
from services.common.observability import configure_logging, instrument
from services.common.outbox import ParkedEvents
from services.common.problem import install_problem_handlers

_SETTING_NAMES = {f.name for f in dataclasses.fields(Settings)}


def create_app(test_config: dict | None = None) -> Flask:
    """Create the gateway app: defaults, then the environment, then TEST_CONFIG.

    Lower-case keys of TEST_CONFIG that name a Settings field (``var_dir``, ``database_url``,
    ``peers``, ...) override the settings; the other keys go to ``app.config``.
    """
    test_config = dict(test_config or {})
    overrides = {k: test_config.pop(k) for k in list(test_config) if k in _SETTING_NAMES}
    if test_config.get("TESTING"):
        overrides.setdefault("testing", True)
    settings = load_settings("gateway", **overrides)
    configure_logging(settings.log_level, "gateway")
    tracing.setup("gateway")

    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.update(DEFAULTS)
    app.config.update(test_config)
    i18n.install(app)
    install_problem_handlers(app)
    gateway = bootstrap(app, settings)
    app.extensions["gateway"] = gateway
    portal.init_app(app, settings)
    registry = instrument(app, "gateway", readiness_checks(gateway), metrics_token=settings.metrics_token)
    registry.register(ParkedEvents(gateway.engine, outbox, "gateway"))
    machines.install(app, settings, gateway.engine, outbox, {})  # the gateway consumes no topic
    measures.providers(app).extend([page_answers.measures(gateway.stores.page_answers),
                                    pulse.measures(gateway.stores.pulse)])
    app.wsgi_app = FastPath(app.wsgi_app, gateway.guard, gateway.upstreams, settings.issuer,
                            app.extensions["observe_request"])
    if settings.trusted_proxies:
        # Only then is X-Forwarded-For believed, and only its last PHR_TRUSTED_PROXIES hops:
        # without a proxy in front, any client could name itself any address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=0)
    # Outermost, so the fast path's requests are traced too; at the edge, so no client picks
    # our trace ids (services/common/tracing.py).
    tracing.trace_app(app, edge=True)
    return app
