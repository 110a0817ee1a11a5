"""Deleted resources leave a tombstone, so a read answers 410 Gone (FHIR R4 3.1.0.7) and the
history keeps their versions; only the custodian may see either.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_resources",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("custodian", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deleted_resources")
