"""What the gateway's worker has told the other services once, at its first start after an upgrade
(gateway/worker.py): a row per announcement, so that it is sent once, however many workers start.

The first is every active member of staff with their roles: the exchange learned staff only from
the account events it heard, so staff who joined before it listened were not counted (an anonymous
report's department is shown only for 5 staff or more) and could not be assigned a report.

Revision ID: 0021_announcements
Revises: 0020_portal_notices_scope
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_announcements"
down_revision = "0020_portal_notices_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("announcements")
