"""The outbox parks an event the broker refuses for good (parked_at, parked_reason).

Revision ID: 0005_outbox_dead_letters
Revises: 0004_signin_throttle
"""
from alembic import op

from services.common.outbox import add_dead_letter_columns, drop_dead_letter_columns

revision = "0005_outbox_dead_letters"
down_revision = "0004_signin_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_dead_letter_columns(op)


def downgrade() -> None:
    drop_dead_letter_columns(op)
