"""Gateway tables: clients, codes, tokens, revocations, accounts, activation codes.

Revision ID: 0001_gateway_initial
Revises:
Create Date: 2025-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_gateway_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(128)),
        sa.Column("jwks", sa.Text),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("patient", sa.String(64), nullable=False, unique=True),
        sa.Column("language", sa.String(35)),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "auth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),
        sa.Column("patient", sa.String(64)),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("issued_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
        sa.Column("access_revoked", sa.Boolean, nullable=False),
        sa.Column("refresh_hash", sa.String(64), unique=True),
        sa.Column("refresh_expires_at", sa.Integer),
        sa.Column("refresh_revoked", sa.Boolean, nullable=False),
        sa.Column("family", sa.String(64), nullable=False),
    )
    op.create_index("ix_tokens_family", "tokens", ["family"])
    op.create_table(
        "revoked_jtis",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("jti", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "assertion_jtis",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_assertion_jtis_expires_at", "assertion_jtis", ["expires_at"])
    op.create_table(
        "activation_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
        sa.Column("used_at", sa.Integer),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
    )
    op.create_table(
        "login_tickets",
        sa.Column("ticket_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for name in ("login_tickets", "activation_codes", "assertion_jtis", "revoked_jtis",
                 "tokens", "auth_codes", "accounts", "clients"):
        op.drop_table(name)
