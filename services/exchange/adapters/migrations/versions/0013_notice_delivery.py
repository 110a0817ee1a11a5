"""Notices outside the app: each person's verified addresses, their choice per topic, and a
delivery per notice, person and channel with a row per attempt (adapters/tables.py).

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

from services.exchange.adapters.tables import _notice_tables

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables as adapters/tables.py declares them, with their unique constraints and indexes.
    for table in _notice_tables(sa.MetaData()):
        table.create(op.get_bind())


def downgrade() -> None:
    for name in ("notice_delivery_attempts", "notice_deliveries", "notice_choices", "notice_contacts"):
        op.drop_table(name)
