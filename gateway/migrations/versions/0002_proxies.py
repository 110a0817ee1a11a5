"""Caregiver (proxy) grants: caregiver accounts, the patient's birth date, grant-bound tokens.

Revision ID: 0002_proxies
Revises: 0001_gateway_initial
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_proxies"
down_revision = "0001_gateway_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="patient"))
        batch.add_column(sa.Column("birth_date", sa.String(10)))
        batch.alter_column("patient", existing_type=sa.String(64), nullable=True)
    # Accounts opened before this revision: the birth date the patient activated with.
    op.execute(sa.text(
        "UPDATE accounts SET birth_date = (SELECT MAX(a.birth_date) FROM activation_codes a "
        "WHERE a.patient = accounts.patient AND a.used_at IS NOT NULL) WHERE birth_date IS NULL"))
    with op.batch_alter_table("auth_codes") as batch:
        batch.add_column(sa.Column("grant_id", sa.String(36)))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("grant_id", sa.String(36)))
        batch.create_index("ix_tokens_grant_id", ["grant_id"])
    op.create_table(
        "proxy_grants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False, index=True),
        sa.Column("patient_account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("patient_birth_date", sa.String(10), nullable=False),
        sa.Column("relationship", sa.String(16), nullable=False),
        sa.Column("rights", sa.Text, nullable=False),
        sa.Column("name", sa.String(80)),
        sa.Column("last_day", sa.String(10), nullable=False),
        sa.Column("ends_at", sa.Integer, nullable=False),
        sa.Column("limited_by_age", sa.Boolean, nullable=False),
        sa.Column("invite_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invite_expires_at", sa.Integer, nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
        sa.Column("caregiver_account_id", sa.String(36), sa.ForeignKey("accounts.id"), index=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("activated_at", sa.Integer),
        sa.Column("revoked_at", sa.Integer),
    )
    op.create_table(
        "proxy_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("grant_id", sa.String(36), nullable=False, index=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(36), nullable=False),
        sa.Column("at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("proxy_events")
    op.drop_table("proxy_grants")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_grant_id")
        batch.drop_column("grant_id")
    with op.batch_alter_table("auth_codes") as batch:
        batch.drop_column("grant_id")
    op.execute(sa.text("DELETE FROM accounts WHERE kind <> 'patient'"))
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("patient", existing_type=sa.String(64), nullable=False)
        batch.drop_column("birth_date")
        batch.drop_column("kind")
