"""The parts every service's Flask app shares: settings, problem+json, ops endpoints, tokens."""
from __future__ import annotations

from typing import Callable

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from services.common import bodies, contract_checks, i18n, jsontext, measures_api, tracing
from services.common.auth import JwksCache, RevocationFeed, TokenValidator, protect
from services.common.config import Settings
from services.common.directory import Directory
from services.common.observability import configure_logging, instrument
from services.common.problem import install_problem_handlers


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, minus the json module's NaN and Infinity: a body holding them is not JSON
    (request.get_json answers None, and the views a 400 problem)."""

    def loads(self, s, **kwargs):
        return jsontext.loads(s, **kwargs)


def service_app(import_name: str, settings: Settings, checks: dict[str, Callable[[], None]],
                validator: TokenValidator | None = None, open_paths: tuple[str, ...] = (),
                directory: Directory | None = None) -> Flask:
    """Create a Flask app for SETTINGS.service with errors, metrics and token checks wired.

    DIRECTORY, the service's copy of the departments, makes the token check refuse a department
    that is not active, and /readyz show how many departments the service knows.
    """
    configure_logging(settings.log_level, settings.service)
    tracing.setup(settings.service)
    app = Flask(import_name)
    # Every body is at most bodies.SMALL unless its view reads it with a larger size.
    app.config.update(SETTINGS=settings, TESTING=settings.testing, JSON_SORT_KEYS=False,
                      MAX_CONTENT_LENGTH=bodies.SMALL)
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False
    app.json.compact = True
    install_problem_handlers(app)
    registry = instrument(app, settings.service, checks,
                          facts={"departments": directory.__len__} if directory is not None else None,
                          metrics_token=settings.metrics_token)
    # Flask runs after_request hooks last-registered first: i18n labels the response
    # (Content-Language) before the contract checks read that label.
    contract_checks.install(app, settings.service, registry, settings.contract_checks)
    i18n.install(app)
    validator = validator or TokenValidator(settings.issuer, settings.audience, JwksCache(settings.jwks_url),
                                            revocations=RevocationFeed(settings.revocations_url))
    if directory is not None:
        validator.departments = directory
    protect(app, validator, open_paths)
    app.extensions["token_validator"] = validator
    measures_api.register(app, settings.service)
    return app
