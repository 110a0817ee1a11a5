"""Exchange migration 0009 keeps each member of staff's roles: the rows counted before it stay,
with no role known, and it goes down again (SQLite and PostgreSQL)."""
import sqlalchemy as sa
from alembic import command

from services.common.db import make_engine
from services.exchange import MIGRATIONS_DIR
from tests.support.databases import alembic_config


def _alembic(url, conn):
    return alembic_config(MIGRATIONS_DIR, url, conn)


def test_revision_0009_adds_the_roles_of_each_member_of_staff_and_downgrades(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "0008")
            conn.execute(sa.text("INSERT INTO staff_members (staff_id, department, active) "
                                 "VALUES ('q-1', 'primary-care', :yes)"), {"yes": True})
        with engine.begin() as conn:
            command.upgrade(_alembic(database_url, conn), "head")
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT roles FROM staff_members WHERE staff_id = 'q-1'")).scalar() == "[]"
            conn.execute(sa.text("INSERT INTO staff_members (staff_id, department, active, roles) "
                                 "VALUES ('q-2', 'primary-care', :yes, '[\"quality\"]')"), {"yes": True})
        with engine.begin() as conn:
            command.downgrade(_alembic(database_url, conn), "0008")
        with engine.connect() as conn:
            assert "roles" not in {c["name"] for c in sa.inspect(conn).get_columns("staff_members")}
            assert conn.execute(sa.text("SELECT COUNT(*) FROM staff_members")).scalar() == 2
    finally:
        engine.dispose()
