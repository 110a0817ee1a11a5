"""Exchange requests keep the trace of the HTTP request that asked (its W3C traceparent), so
that the sweeper's retries of a step (consent away, a reply lost) continue that trace rather
than starting one of their own (services/common/tracing.py, resumed).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_requests") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_requests") as batch:
        batch.drop_column("traceparent")
