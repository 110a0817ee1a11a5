"""Patients' own apps (SMART App Launch 2): which apps each patient approved, with what
scope and when the app last got a token; and the OpenID Connect nonce an authorization code
carries to its id_token. Apps themselves are rows of ``clients`` of kind "app".

Revision ID: 0016_patient_apps
Revises: 0015_staff_pulse_counts
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_patient_apps"
down_revision = "0015_staff_pulse_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_approvals",
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("approved_at", sa.Integer, nullable=False),
        sa.Column("last_used_at", sa.Integer),
    )
    with op.batch_alter_table("auth_codes") as batch:
        batch.add_column(sa.Column("nonce", sa.String(255)))
    # Registrations per address are counted by the rate limits (gateway/proxy/ratelimit.py); the address
    # is kept so an operator can see where a flood of registrations came from.
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("registered_from", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("registered_from")
    with op.batch_alter_table("auth_codes") as batch:
        batch.drop_column("nonce")
    op.drop_table("app_approvals")
