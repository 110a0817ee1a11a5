"""Outbox and processed events.

Revision ID: 0001
Revises:
"""
from alembic import op

from services.common.outbox import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox")
