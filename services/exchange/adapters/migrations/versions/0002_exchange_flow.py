"""Exchange requests, the disclosure ledger (hash chain and its head) and notifications.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from services.exchange.adapters import tables as t

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("exchange_requests", *t._request_columns())
    op.create_table("ledger", *t._ledger_columns())
    op.create_table("ledger_head", *t._head_columns())
    op.create_table("notifications", *t._notification_columns())


def downgrade() -> None:
    for name in ("notifications", "ledger_head", "ledger", "exchange_requests"):
        op.drop_table(name)
