"""The migration lock lives with the database: an advisory lock on PostgreSQL (any host), a file
lock beside a SQLite file (one host); a second migration waits for the first, then has nothing
left to do."""
from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.config import Config

from services.common.db import MIGRATION_LOCK_KEY, make_engine, migrate, migration_lock
from services.consent import MIGRATIONS_DIR
from services.consent.adapters.tables import metadata


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def revision(engine) -> str | None:
    if not sa.inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


class HeldLock:
    """The database's migration lock, held as another process migrating would hold it."""

    def __init__(self, engine):
        self.engine = engine
        self.key = {"key": MIGRATION_LOCK_KEY}

    def __enter__(self):
        if self.engine.dialect.name == "postgresql":
            self.conn = self.engine.connect()
            self.conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), self.key)
        else:
            self.held = migration_lock(self.engine)
            self.held.__enter__()
        return self

    def __exit__(self, *exc):
        if self.engine.dialect.name == "postgresql":
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), self.key)
            self.conn.close()
        else:
            self.held.__exit__(*exc)


def test_a_migration_waits_for_the_one_holding_the_lock_then_finds_the_schema_new(database_url):
    engine = make_engine(database_url)
    try:
        failures = []

        def second():
            try:
                migrate(database_url, MIGRATIONS_DIR)
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)

        with HeldLock(engine):
            waiting = threading.Thread(target=second, daemon=True)
            waiting.start()
            waiting.join(1.5)
            assert waiting.is_alive(), "the migration did not wait for the lock"
            assert revision(engine) is None  # nothing was written while it waited
        waiting.join(120)
        assert not waiting.is_alive() and failures == []
        assert revision(engine) == head()
        assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
        migrate(database_url, MIGRATIONS_DIR)  # once more: nothing to do, no error
        assert revision(engine) == head()
    finally:
        engine.dispose()


def test_the_lock_file_of_a_sqlite_database_lies_beside_it_with_owner_only_rights(tmp_path):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url, MIGRATIONS_DIR)
    lock = tmp_path / "consent.db-migrate.lock"
    assert lock.exists() and lock.stat().st_mode & 0o077 == 0

