"""Exchange migration 0014: duplicate live subscriptions made before it are turned off (the oldest
kept, what the others were owed withheld), one per department, patient, type and endpoint is kept
from then on, deliveries get their own counters, and it goes down again (SQLite and PostgreSQL)."""
import pytest
import sqlalchemy as sa
from alembic import command

from services.common.db import make_engine
from services.exchange import MIGRATIONS_DIR
from tests.support.databases import alembic_config

SUB = ("INSERT INTO subscriptions (id, department, patient, resource_type, criteria, endpoint, payload, headers,"
       " reason, end_at, purpose, status, events_since_start, error, created_at, updated_at) VALUES"
       " (:id, 'cardiology', 'p-1', 'Observation', 'Observation?patient=p-1', :endpoint, NULL, '[]', 'why',"
       " NULL, 'TREAT', :status, 0, NULL, :at, :at)")
DELIVERY = ("INSERT INTO subscription_deliveries (id, subscription_id, patient, event_id, resources, status,"
            " attempts, next_attempt_at, created_at) VALUES (:id, :sub, 'p-1', 'e-1', '[]', 'pending', 3,"
            " '2026-12-06 07:00:00', '2026-12-06 07:00:00')")


def test_revision_0014_keeps_the_oldest_of_duplicates_makes_them_unique_and_downgrades(database_url):
    engine = make_engine(database_url)
    cfg = lambda conn: alembic_config(MIGRATIONS_DIR, database_url, conn)  # noqa: E731
    try:
        with engine.begin() as conn:
            command.upgrade(cfg(conn), "0013")
            for sub_id, endpoint, status, at in (("old", "http://a/h", "active", "2026-12-01 07:00:00"),
                                                 ("new", "http://a/h", "active", "2026-12-02 07:00:00"),
                                                 ("gone", "http://a/h", "off", "2026-11-01 07:00:00"),
                                                 ("other", "http://b/h", "active", "2026-12-02 07:00:00")):
                conn.execute(sa.text(SUB), {"id": sub_id, "endpoint": endpoint, "status": status, "at": at})
            for sub_id in ("old", "new"):
                conn.execute(sa.text(DELIVERY), {"id": f"d-{sub_id}", "sub": sub_id})
        with engine.begin() as conn:
            command.upgrade(cfg(conn), "head")
        with engine.begin() as conn:
            status = dict(conn.execute(sa.text("SELECT id, status FROM subscriptions")).all())
            assert status == {"old": "active", "new": "off", "gone": "off", "other": "active"}
            owed = dict(conn.execute(sa.text("SELECT id, status FROM subscription_deliveries")).all())
            assert owed == {"d-old": "pending", "d-new": "withheld"}
            counts = conn.execute(sa.text("SELECT failures, late_permits, event_number FROM subscription_deliveries"
                                          " WHERE id = 'd-old'")).one()
            assert tuple(counts) == (0, 0, None)
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(SUB), {"id": "again", "endpoint": "http://a/h", "status": "active",
                                        "at": "2026-12-03 07:00:00"})
        with engine.begin() as conn:
            command.downgrade(cfg(conn), "0013")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("subscription_deliveries")}
            assert not columns & {"failures", "late_permits", "event_number"}
            assert "uq_subscriptions_live" not in {i["name"] for i in sa.inspect(conn).get_indexes("subscriptions")}
    finally:
        engine.dispose()
