"""Resources, their history, outbox and processed events.

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
        "resources",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("custodian", sa.String(100), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_index("ix_resources_patient_id", "resources", ["patient_id"])
    op.create_table(
        "resource_history",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("resource_history")
    op.drop_table("resources")
    op.drop_table("processed_events")
    op.drop_table("outbox")
