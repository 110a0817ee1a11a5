"""Service apps for tests: a migrated real database, real tokens, strict contract checks.

The fixtures `records`, `consent` and `exchange` (tests/conftest.py) build one of these on the
test's database; a test that needs more than one service, or other settings, builds them with
the `service_apps` fixture, a `ServiceApps`.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from services.common.config import load_settings
from services.common.db import make_engine
from tests.support.databases import migrated
from tests.support.directory import seed_directory
from tests.support.tokens import TokenMint


class ServiceApp(NamedTuple):
    """One service's test client and database engine: ``client, engine = records``."""

    client: FlaskClient
    engine: Engine

    @property
    def app(self) -> Flask:
        return self.client.application

    @property
    def service(self):
        """What the app's views call: the records, consent or exchange service object."""
        return self.app.extensions[self.app.config["SETTINGS"].service]


class ServiceApps:
    """Build service apps that trust MINT's tokens, with VAR_DIR as their PHR_VAR_DIR.

    Each app runs on the database URL it is given, or on a SQLite file of its own in VAR_DIR
    (two services never share a database); ``close()`` disposes of every engine.
    SETTINGS override the Settings fields (testing=True and contract_checks="enforce" unless said).
    """

    def __init__(self, mint: TokenMint, var_dir: Path):
        self.mint, self.var_dir, self._engines = mint, Path(var_dir), []

    def records(self, database_url: str | None = None, clock: Callable | None = None, **settings) -> ServiceApp:
        """The records service; CLOCK, if given, is its clock (see `Clock`)."""
        from services.records import MIGRATIONS_DIR
        from services.records.entrypoints.http import create_app
        return self._build("records", MIGRATIONS_DIR, create_app, database_url, settings,
                           **({"clock": clock} if clock else {}))

    def consent(self, database_url: str | None = None, clock: Callable | None = None, **settings) -> ServiceApp:
        """The consent service; CLOCK, if given, is its clock (see `Clock`)."""
        from services.consent import MIGRATIONS_DIR
        from services.consent.entrypoints.http import create_app
        return self._build("consent", MIGRATIONS_DIR, create_app, database_url, settings,
                           **({"clock": clock} if clock else {}))

    def exchange(self, database_url: str | None = None, consent=None, records=None, **settings) -> ServiceApp:
        """The exchange service; its CONSENT and RECORDS peers are faked in memory unless given
        (reach them as ``exchange.service.consent`` and ``exchange.service.records``)."""
        from services.exchange import MIGRATIONS_DIR
        from services.exchange.adapters.fakes import FakeConsent, FakeRecords
        from services.exchange.entrypoints.http import create_app
        return self._build("exchange", MIGRATIONS_DIR, create_app, database_url, settings,
                           consent=consent or FakeConsent(), records=records or FakeRecords())

    def __enter__(self) -> "ServiceApps":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()

    def _build(self, service: str, migrations: Path, create_app, database_url: str | None, settings: dict,
               **config) -> ServiceApp:
        url = database_url or f"sqlite:///{self.var_dir / service}.db"
        migrated(url, migrations)
        engine = make_engine(url)
        seed_directory(engine)  # the demo's departments, as the service's worker would keep them
        self._engines.append(engine)
        values = {"issuer": self.mint.issuer, "audience": self.mint.audience, "testing": True,
                  "contract_checks": "enforce", **settings}
        app = create_app({"settings": load_settings(service, {"PHR_VAR_DIR": str(self.var_dir)}, database_url=url,
                                                    **values),
                          "engine": engine, "validator": self.mint.validator(), **config})
        return ServiceApp(app.test_client(), engine)


class Clock:
    """A clock a test sets: it reads ``now`` (the time it was made) until the test moves it."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


@contextmanager
def records_app(database_url: str, mint: TokenMint, var_dir: Path, **overrides) -> Iterator[tuple[Flask, Engine]]:
    """Yield (app, engine) of the records service on DATABASE_URL (OVERRIDES: Settings fields)."""
    with ServiceApps(mint, var_dir) as apps:
        records = apps.records(database_url, **overrides)
        yield records.app, records.engine


def count_view_calls(app: Flask, endpoint: str) -> list:
    """Count the calls of APP's Flask view ENDPOINT (one item per call): what a fast route
    answers never reaches it."""
    calls, view = [], app.view_functions[endpoint]

    def counted(*args, **kwargs):
        calls.append(1)
        return view(*args, **kwargs)

    app.view_functions[endpoint] = counted
    return calls


def behind_fast_path(app: Flask):
    """Return the WSGI callable APP's fast path hands over to (Flask alone), past the tracing
    middleware in front of it (services/common/tracing.py)."""
    from gateway.proxy.fastpath import FastPath
    from services.common.fastpath import FastRoutes

    layer = app.wsgi_app
    while not isinstance(layer, (FastRoutes, FastPath)):
        layer = layer.app
    return layer.app
