"""Migration 0002_proxies on SQLite and PostgreSQL: existing accounts keep working and gain a birth date."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from gateway import MIGRATIONS_DIR
from services.common.db import make_engine, normalise_url


def _run(url: str, action, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            action(cfg, revision)
    finally:
        engine.dispose()


def test_existing_accounts_become_patient_accounts_with_the_birth_date_they_activated_with(database_url):
    _run(database_url, command.upgrade, "0001_gateway_initial")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO accounts (id, username, password_hash, patient, language, failed_logins, "
                "locked_until, created_at) VALUES ('a-1', 'ana', 'h', 'p-1', 'es', 0, 0, 1)"))
            conn.execute(sa.text(
                "INSERT INTO activation_codes (code_hash, patient, birth_date, language, department, "
                "created_at, expires_at, used_at, failed_attempts) "
                "VALUES ('x', 'p-1', '1961-04-02', 'es', 'primary-care', 1, 2, 1, 0)"))
        _run(database_url, command.upgrade, "head")
        with engine.begin() as conn:
            row = conn.execute(sa.text("SELECT kind, birth_date FROM accounts")).one()
            conn.execute(sa.text(  # a caregiver's account has no patient of its own
                "INSERT INTO accounts (id, username, password_hash, patient, kind, failed_logins, "
                "locked_until, created_at) VALUES ('a-2', 'carla', 'h', NULL, 'caregiver', 0, 0, 1)"))
        assert tuple(row) == ("patient", "1961-04-02")
        assert {"proxy_grants", "proxy_events"} <= set(sa.inspect(engine).get_table_names())
        _run(database_url, command.downgrade, "0001_gateway_initial")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT username FROM accounts")).scalars().all() == ["ana"]
    finally:
        engine.dispose()
