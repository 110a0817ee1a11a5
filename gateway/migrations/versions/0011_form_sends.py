"""The console's one-time form tokens (``form_sends``): a form sent twice makes one thing.

Revision ID: 0011_form_sends
Revises: 0010_staff_sign_in
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_form_sends"
down_revision = "0010_staff_sign_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_sends",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("at", sa.Integer, nullable=False),
        sa.Column("result", sa.String(300)),
    )
    op.create_index("ix_form_sends_at", "form_sends", ["at"])


def downgrade() -> None:
    op.drop_index("ix_form_sends_at", table_name="form_sends")
    op.drop_table("form_sends")
