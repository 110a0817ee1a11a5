"""The equity report's projection: patients' demographics and accounts, caregivers, exchanges.

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
    op.create_table(
        "equity_patients",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("sex", sa.String(16), nullable=True),
        sa.Column("interpreter_needed", sa.Boolean, nullable=True),
        sa.Column("code_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "equity_proxies",
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "equity_exchanges",
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for name in ("equity_exchanges", "equity_proxies", "equity_patients"):
        op.drop_table(name)
