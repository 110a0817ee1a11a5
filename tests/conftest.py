"""Fixtures shared by every tier: token mint, real broker, real databases."""
from __future__ import annotations

pytest_plugins = ["tests.support.contract_plugin"]

import os

import pytest

from tests.support.broker import Broker
from tests.support.databases import (create_postgres_database, drop_postgres_database,
                                     postgres_available)
from tests.support.tokens import TokenMint

# Every contract check is strict in the test suite: an event or a patient-facing response
# that breaks its contract fails the test (the e2e stack inherits this through its env).
os.environ.setdefault("CONTRACT_CHECKS", "enforce")

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not _pg_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)
