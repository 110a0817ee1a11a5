"""Gateway migration 0016 on SQLite and PostgreSQL: patients' app approvals, the id_token's nonce
on authorization codes and the registering address of an app; existing clients keep their rows,
and its downgrade takes the new parts away again."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from services.common.db import normalise_url
from tests.integration.test_gateway_page_answers_migration import config


def shape(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(normalise_url(url))
    try:
        found = sa.inspect(engine)
        return {t: {c["name"] for c in found.get_columns(t)} for t in ("app_approvals", "auth_codes", "clients")
                if found.has_table(t)}
    finally:
        engine.dispose()


def test_0016_adds_approvals_a_nonce_and_the_registering_address_and_its_downgrade_removes_them(database_url):
    cfg = config(database_url)
    command.upgrade(cfg, "0015_staff_pulse_counts")
    engine = sa.create_engine(normalise_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO clients (client_id, kind, name, scope, redirect_uris, created_at) "
                                 "VALUES ('phr-portal', 'portal', 'Patient portal', 'openid', '[]', 1)"))
        before = shape(database_url)
        assert "app_approvals" not in before
        command.upgrade(cfg, "0016_patient_apps")
        after = shape(database_url)
        assert after["app_approvals"] == {"account_id", "client_id", "scope", "approved_at", "last_used_at"}
        assert after["auth_codes"] == before["auth_codes"] | {"nonce"}
        assert after["clients"] == before["clients"] | {"registered_from"}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT client_id, registered_from FROM clients")).all() == [("phr-portal", None)]
        command.downgrade(cfg, "0015_staff_pulse_counts")
        assert shape(database_url) == before
    finally:
        engine.dispose()
