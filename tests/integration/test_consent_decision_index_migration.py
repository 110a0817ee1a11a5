"""Consent migration 0009: the expiry sweep's index covers only consents with an end date, so a
decision's look-up takes the patient's index however many consents are active (SQLite and
PostgreSQL), and it goes down again."""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import command

from services.common.db import make_engine
from services.consent import MIGRATIONS_DIR
from services.consent.adapters.repository import _ACTIVE_FOR
from services.consent.adapters.tables import consents
from tests.support.databases import alembic_config


def _rows(count: int) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [dict(id=f"c-{i}", patient=f"pat-{i}", grantee_kind="department", grantee_id="cardiology",
                 purposes='["TREAT"]', classes='["Observation"]', period_start=now, period_end=None,
                 status="active", version=1, notify=False, created_at=now, created_by_kind="patient",
                 created_by_id=f"pat-{i}", language="en", text="I share.", text_sha256="0" * 64)
            for i in range(count)]


def _index_sql(conn) -> str:
    if conn.dialect.name == "sqlite":
        return conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'ix_consents_status_end'")).scalar()
    return conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_consents_status_end'")).scalar()


def test_revision_0009_keeps_the_sweeps_index_to_consents_with_an_end_and_goes_down_again(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(MIGRATIONS_DIR, database_url, conn), "0009")
            assert "period_end IS NOT NULL" in _index_sql(conn)
            conn.execute(consents.insert(), _rows(2000))
            if conn.dialect.name == "sqlite":  # the planner PostgreSQL uses depends on its statistics
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(_ACTIVE_FOR.compile(conn)),
                                            ("pat-7", "department", "cardiology", "active")).all()
                assert "ix_consents_patient_grantee" in plan[0][-1], plan
            assert [r.id for r in conn.execute(_ACTIVE_FOR, {"patient": "pat-7", "department": "cardiology"})] == ["c-7"]
        with engine.begin() as conn:
            command.downgrade(alembic_config(MIGRATIONS_DIR, database_url, conn), "0008")
            assert "period_end IS NOT NULL" not in _index_sql(conn)
            assert conn.execute(sa.select(sa.func.count()).select_from(consents)).scalar() == 2000
    finally:
        engine.dispose()
