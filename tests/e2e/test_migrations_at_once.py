"""Hosts started together migrate one set of fresh PostgreSQL databases at once: each
``python -m launcher.migrate all`` succeeds, and every service's schema is the newest, built once,
with the tables, columns and indexes the code names."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from launcher.migrate import PACKAGES
from services.common.db import make_engine
from tests.support.databases import postgres_available

ROOT = Path(__file__).resolve().parents[2]
METADATA = {"gateway": "gateway.schema", "consent": "services.consent.adapters.tables",
            "records": "services.records.adapters.tables", "exchange": "services.exchange.adapters.tables"}

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_databases(request) -> dict[str, str]:
    """One empty PostgreSQL database per service."""
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    databases = request.getfixturevalue("postgres_databases")
    urls = {name: databases.take() for name in PACKAGES}
    yield urls
    for url in urls.values():
        databases.drop(url)


def head(name: str) -> str:
    config = Config()
    config.set_main_option("script_location", str(PACKAGES[name].MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_two_hosts_migrating_the_same_fresh_databases_at_once_both_succeed(fresh_databases, tmp_path):
    env = {**os.environ, "PHR_VAR_DIR": str(tmp_path / "var"),
           **{f"{name.upper()}_DATABASE_URL": url for name, url in fresh_databases.items()}}
    env.pop("DATABASE_URL", None)
    hosts = [subprocess.Popen([sys.executable, "-m", "launcher.migrate", "all"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [host.communicate(timeout=300) for host in hosts]
    for host, (out, err) in zip(hosts, results):
        assert host.returncode == 0, err
        assert all(f"migrate: {name} is at the newest schema" in out for name in PACKAGES)

    for name, url in fresh_databases.items():
        metadata = __import__(METADATA[name], fromlist=["metadata"]).metadata
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == [head(name)], name  # one row: upgraded once, not twice
            inspector = sa.inspect(engine)
            tables = set(inspector.get_table_names())
            assert set(metadata.tables) <= tables, (name, set(metadata.tables) - tables)
            for table in metadata.tables.values():
                columns = {column["name"] for column in inspector.get_columns(table.name)}
                assert {column.name for column in table.columns} == columns, (name, table.name)
                # the indexes the code names are the ones the migrations made, by name
                indexes = {index["name"] for index in inspector.get_indexes(table.name)}
                assert {index.name for index in table.indexes} <= indexes, (name, table.name)
        finally:
            engine.dispose()
