"""Fixtures shared by every tier: token mint, real broker, real databases, the services' apps, the
gateway's app (its helpers are in tests/support/gateway.py)."""
from __future__ import annotations

pytest_plugins = ["tests.support.contract_plugin"]

import os

import pytest

from gateway import MIGRATIONS_DIR as GATEWAY_MIGRATIONS
from gateway.app import create_app as create_gateway_app
from tests.support.apps import Clock, ServiceApp, ServiceApps
from tests.support.broker import Broker
from tests.support.databases import (PostgresDatabases, create_postgres_database, drop_postgres_database,
                                     from_template, postgres_available)
from tests.support.gateway import CHEAP_HASHES, ISSUER, Upstream
from tests.support.mail import MailServer, SmsReceiver, notice_env
from tests.support.redis import redis_available, shared_redis
from tests.support.stack import SERVICES, Stack
from tests.support.tokens import TokenMint

# Every contract check is strict in the test suite: an event or a patient-facing response
# that breaks its contract fails the test (the e2e stack inherits this through its env).
os.environ.setdefault("CONTRACT_CHECKS", "enforce")
# A metrics token in the developer's shell would close every /metrics the tests read; the tests
# that want one set it themselves (tests/integration/test_metrics_token.py).
for _name in ("METRICS_TOKEN", "METRICS_TOKEN_FILE"):
    os.environ.pop(_name, None)

_PG = None


def _pg_available() -> bool:
    global _PG
    if _PG is None:
        _PG = postgres_available()
    return _PG


@pytest.fixture(scope="session")
def mint() -> TokenMint:
    """A signing key that tests use to mint real access tokens."""
    return TokenMint()


@pytest.fixture(scope="session")
def broker():
    """The embedded Tansu broker on a free port, for the whole session."""
    b = Broker().start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def postgres_databases():
    """Fresh PostgreSQL databases made ahead of the tests that take them (tests/support/databases.py)."""
    from tests.support import databases as module

    databases = module.POSTGRES = PostgresDatabases()
    yield databases
    module.POSTGRES = None
    databases.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not _pg_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    databases = request.getfixturevalue("postgres_databases")
    url = databases.take()
    yield url
    databases.drop(url)


@pytest.fixture
def redis_store():
    """The real Redis, under a key prefix of this test's own; its keys are deleted after it."""
    if not redis_available():
        pytest.skip("no Redis server answers at 127.0.0.1:6379 (set PHR_TEST_REDIS to one)")
    store = shared_redis()
    yield store
    store.clean()


# -- one service's app on the test's database (a module that must run on SQLite only overrides
# `database_url`); tests that need two services use `service_apps`, each on a SQLite file.

@pytest.fixture
def service_apps(mint, tmp_path):
    """Builds the services' apps for one test (tests/support/apps.py); their engines are disposed after it."""
    with ServiceApps(mint, tmp_path) as apps:
        yield apps


@pytest.fixture
def records_settings() -> dict:
    """Settings fields the `records` app gets beyond the defaults; a module overrides this fixture."""
    return {}


@pytest.fixture
def records(service_apps, database_url, records_settings) -> ServiceApp:
    """The records service: ``client, engine = records``; ``records.app``, ``records.service``."""
    return service_apps.records(database_url, **records_settings)


@pytest.fixture
def consent(service_apps, database_url) -> ServiceApp:
    """The consent service, on a clock the test moves (``consent.service.clock.now``)."""
    return service_apps.consent(database_url, clock=Clock())


@pytest.fixture
def exchange(service_apps, database_url) -> ServiceApp:
    """The exchange service, its consent and records peers faked in memory
    (``exchange.service.consent``, ``exchange.service.records``)."""
    return service_apps.exchange(database_url)


# -- the gateway: `app`, `client` and `engine` are the gateway's, on SQLite; it forwards to `upstream`

@pytest.fixture
def upstream() -> Upstream:
    """A real HTTP server standing for records, consent and exchange behind the gateway."""
    with Upstream() as server:
        yield server


@pytest.fixture
def gateway_config(tmp_path, upstream) -> dict:
    """Settings overrides and app config for one test's gateway."""
    peers = {"gateway": ISSUER, "records": upstream.url, "consent": upstream.url,
             "exchange": upstream.url}
    return {"TESTING": True, "var_dir": tmp_path, "database_url": f"sqlite:///{tmp_path}/gw.db",
            "issuer": ISSUER, "audience": ISSUER, "jwks_url": ISSUER + "/oauth/jwks",
            "peers": peers, "rate_limit_per_second": 100.0, "rate_limit_burst": 100,
            "REVOCATION_REFRESH_SECONDS": 0.0, "UPSTREAM_READ_TIMEOUT": 2.0,
            "PASSWORD_HASH_PARAMETERS": CHEAP_HASHES}


@pytest.fixture
def app(gateway_config):
    """The gateway's Flask app."""
    from_template(gateway_config["database_url"], GATEWAY_MIGRATIONS)
    return create_gateway_app(gateway_config)


@pytest.fixture
def client(app):
    """The gateway's test client."""
    return app.test_client()


@pytest.fixture
def engine(app):
    """The gateway's database engine."""
    return app.extensions["gateway"].engine


@pytest.fixture(scope="session")
def mail():
    """A real SMTP server (aiosmtpd) the shared stack sends its notices to."""
    with MailServer() as server:
        yield server


@pytest.fixture(scope="session")
def sms():
    """A real HTTP receiver of the stack's text messages (the generic webhook provider)."""
    with SmsReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory, mail, sms):
    """A running stack with the demo seeded, shared by the e2e and security modules that drive it
    over real HTTP; stopped (as by Ctrl-C) at the end. Tests that share it must not depend on
    what the others did to the demo patients. Its notices go to MAIL and SMS, tried again every
    fraction of a second (tests/support/mail.py notice_env)."""
    urls = {}
    if request.param == "postgres":
        if not _pg_available():
            pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
        urls = {name: create_postgres_database(f"phr_e2e_{name}") for name in SERVICES}
    try:
        # Subscription notifications may reach the tests' own receivers on 127.0.0.1 (never the
        # stack's services: services/exchange/domain/subscriptions.py, HostPolicy).
        with Stack(tmp_path_factory.mktemp(f"stack-{request.param}"), urls,
                   {**notice_env(mail, sms), "SUBSCRIPTION_ENDPOINT_ALLOW": "127.0.0.1"}) as s:
            yield s
    finally:
        for url in urls.values():
            drop_postgres_database(url)


def not_a_privacy_officer(mint, dept: str, patient: str) -> dict[str, dict]:
    """Tokens of everyone at DEPT who is not its privacy officer, and of PATIENT: each must be
    refused what only the privacy officer's scope reads ({who: Authorization headers})."""
    return {
        "a clinician": mint.staff(dept=dept, roles=("clinician",)),
        "a records officer": mint.staff(dept=dept, roles=("records-officer",)),
        "an administrator": mint.staff(dept=dept, roles=("admin",)),
        "a department's system token": mint.department(dept, scope="system/*.cruds"),
        "a patient's token": mint.patient(patient, sub="a-1"),
    }
