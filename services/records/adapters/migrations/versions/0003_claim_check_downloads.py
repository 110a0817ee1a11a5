"""Claim checks note their first download, so they can be deleted after a grace:
a prepared Bundle, a full copy of records, is not kept for ever.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim_checks") as batch:
        batch.add_column(sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_claim_checks_expires_at", ["expires_at"])
        batch.create_index("ix_claim_checks_downloaded_at", ["downloaded_at"])


def downgrade() -> None:
    with op.batch_alter_table("claim_checks") as batch:
        batch.drop_index("ix_claim_checks_downloaded_at")
        batch.drop_index("ix_claim_checks_expires_at")
        batch.drop_column("downloaded_at")
