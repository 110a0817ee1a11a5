"""The outbox parks an event the broker refuses for good (parked_at, parked_reason), so the
relay goes on with the other events instead of retrying that one for ever.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

from services.common.outbox import add_dead_letter_columns, drop_dead_letter_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_dead_letter_columns(op)


def downgrade() -> None:
    drop_dead_letter_columns(op)
