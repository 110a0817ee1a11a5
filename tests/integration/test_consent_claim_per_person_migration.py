"""Consent migration 0008 makes the one-open-claim rule per claimant, keeps the claims made
before it, and goes down again (SQLite and PostgreSQL)."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from services.common.db import make_engine
from services.consent import MIGRATIONS_DIR
from tests.support.databases import alembic_config

INSERT = sa.text("INSERT INTO break_glass (id, patient, department, purpose, reason, created_at, expires_at,"
                 " sensitive, open_claim, claimed_by, claimed_by_user) VALUES (:id, 'pat-1', 'emergency',"
                 " 'ETREAT', 'Collapsed', :at, :until, '[]', :open, :by, NULL)")
#: After 0008 the service writes the claimant too ('' for the department's own client).
INSERT_0008 = sa.text(str(INSERT).replace("claimed_by_user)", "claimed_by_user, claimant)")
                      .replace("NULL)", "NULL, :claimant)"))


def _alembic(url, conn):
    return alembic_config(MIGRATIONS_DIR, url, conn)


def test_revision_0008_lets_each_person_hold_an_open_claim_and_downgrades_to_one(database_url):
    engine = make_engine(database_url)
    at = datetime.now(timezone.utc)
    row = lambda cid, by, minutes=0: {"id": cid, "at": at + timedelta(minutes=minutes),  # noqa: E731
                                      "until": at + timedelta(hours=1), "open": True, "by": by,
                                      "claimant": by or ""}
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0007")
            conn.execute(INSERT, row("g-vega", "dr-vega"))
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "head")
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT claimant FROM break_glass")).scalar() == "dr-vega"
            conn.execute(INSERT_0008, row("g-okafor", "dr-okafor", 1))
            conn.execute(INSERT_0008, row("g-client", None, 2))  # the department's own client: claimant ''
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(INSERT_0008, row("g-vega-2", "dr-vega", 3))
        with engine.begin() as conn:
            command.downgrade(_alembic(database_url, conn), "0007")
        with engine.connect() as conn:
            still_open = conn.execute(sa.text("SELECT id FROM break_glass WHERE open_claim IS NOT NULL")).scalars()
            assert list(still_open) == ["g-client"]  # the newest; the others stay in force by their expiry
            assert "claimant" not in {c["name"] for c in sa.inspect(conn).get_columns("break_glass")}
            assert conn.execute(sa.text("SELECT COUNT(*) FROM break_glass")).scalar() == 3
    finally:
        engine.dispose()
