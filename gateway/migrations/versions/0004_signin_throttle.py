"""Sign-in throttle: growing delays per username, password-check budgets per client address.

Revision ID: 0004_signin_throttle
Revises: 0003_outbox
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_signin_throttle"
down_revision = "0003_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_delays",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.Float, nullable=False, index=True),
        sa.Column("wait_until", sa.Float, nullable=False),
    )
    op.create_table(
        "signin_budgets",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False, index=True),
    )
    # The old hard lock (accounts.locked_until) is no longer read: lift any lock in force.
    op.execute(sa.text("UPDATE accounts SET failed_logins = 0, locked_until = 0"))


def downgrade() -> None:
    op.drop_table("signin_budgets")
    op.drop_table("signin_delays")
