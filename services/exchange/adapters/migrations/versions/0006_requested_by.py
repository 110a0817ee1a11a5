"""Who asked: an exchange request a member of staff made keeps the person (the token's sub and
fhirUser) beside the department, so the department's inbox and phr.exchange.requested can say
who it was. A department's own system requests leave both empty.

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
    with op.batch_alter_table("exchange_requests") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("requested_by_user", sa.String(100), nullable=True))
        batch.create_index("ix_exchange_requests_requester_created", ["requester", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("exchange_requests") as batch:
        batch.drop_index("ix_exchange_requests_requester_created")
        batch.drop_column("requested_by_user")
        batch.drop_column("requested_by")
