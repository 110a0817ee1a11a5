"""The break-the-glass review queue: one item per emergency claim (phr.consent.break-glass),
kept until a privacy officer of the patient's custodian department records whether it was
justified, with who reviewed it and when (docs/architecture.md, "Consent rules").

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "break_glass_reviews",
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_by_user", sa.String(100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("sensitive", sa.Text, nullable=False),
        sa.Column("priority", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("reviewer_user", sa.String(100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_break_glass_reviews_queue", "break_glass_reviews", ["priority", "claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_break_glass_reviews_queue", "break_glass_reviews")
    op.drop_table("break_glass_reviews")
