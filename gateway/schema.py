"""The gateway's tables (SQLAlchemy Core); times are integer Unix seconds."""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

clients = sa.Table(
    "clients", metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "department" | "portal"
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(128)),  # SHA-256 of a 256-bit random secret
    sa.Column("jwks", sa.Text),  # RFC 7517 JWK Set for private_key_jwt
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("redirect_uris", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.Integer, nullable=False),
)

auth_codes = sa.Table(
    "auth_codes", metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("code_challenge_method", sa.String(8), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),
    sa.Column("patient", sa.String(64)),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("issued_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("access_revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("refresh_hash", sa.String(64), unique=True),
    sa.Column("refresh_expires_at", sa.Integer),
    sa.Column("refresh_revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("family", sa.String(64), nullable=False, index=True),  # one login's rotated chain
)

# Append-only, so every process can poll "id > last seen" cheaply (see revocation.py).
revoked_jtis = sa.Table(
    "revoked_jtis", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("jti", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", sa.Integer, nullable=False),
)

assertion_jtis = sa.Table(
    "assertion_jtis", metadata,
    sa.Column("key", sa.String(200), primary_key=True),  # client_id + " " + jti
    sa.Column("expires_at", sa.Integer, nullable=False, index=True),
)

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("patient", sa.String(64), nullable=False, unique=True),
    sa.Column("language", sa.String(35)),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Integer, nullable=False),
)

activation_codes = sa.Table(
    "activation_codes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("birth_date", sa.String(10), nullable=False),
    sa.Column("language", sa.String(35)),
    sa.Column("department", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
    sa.Column("used_at", sa.Integer),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
)

login_tickets = sa.Table(
    "login_tickets", metadata,
    sa.Column("ticket_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Integer, nullable=False),
)
