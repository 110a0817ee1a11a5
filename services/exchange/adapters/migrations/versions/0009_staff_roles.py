"""Staff roles: the exchange keeps each member of staff's roles (from phr.accounts.staff-activated
and -roles-changed) so that a report is assigned only to an active quality member of its
department. Rows kept before this revision have no roles known ('[]'): such a person cannot be
assigned until their roles are announced again (docs/architecture.md, "Reports").

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members") as batch:
        batch.add_column(sa.Column("roles", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("staff_members") as batch:
        batch.drop_column("roles")
