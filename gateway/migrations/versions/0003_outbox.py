"""The gateway's transactional outbox: account facts for the equity report.

Revision ID: 0003_outbox
Revises: 0002_proxies
Create Date: 2026-12-01
"""
from alembic import op

from services.common.outbox import create_messaging_tables

revision = "0003_outbox"
down_revision = "0002_proxies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox")
