"""Patient index, outbox and processed events.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from services.common.outbox import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_index",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("custodian", sa.String(100), nullable=False),
        sa.Column("resource_count", sa.Integer, nullable=False),
        sa.Column("resource_types", sa.Text, nullable=False),
        sa.Column("last_event_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("patient_index")
    op.drop_table("processed_events")
    op.drop_table("outbox")
