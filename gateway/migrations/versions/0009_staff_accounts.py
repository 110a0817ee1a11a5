"""Department staff accounts: ``staff_accounts``, their ``staff_recovery_codes``, the
``staff_invites`` an admin opens them with and the ``staff_audit`` trail.

Department staff sign in as people, each for one department with one or more roles, with a
password and a second factor (TOTP or a one-time recovery code); gateway/accounts/staff.py
says how. Only new tables: nothing that exists changes, and a deployment has no staff until
an admin invites them.

Revision ID: 0009_staff_accounts
Revises: 0008_directory
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_staff_accounts"
down_revision = "0008_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(40), nullable=False, index=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("practitioner", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger),
        sa.Column("invite_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("activated_at", sa.Integer),
        sa.Column("disabled_at", sa.Integer),
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("staff_accounts.id"),
                  nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("used_at", sa.Integer),
    )
    op.create_table(
        "staff_invites",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("department", sa.String(40), nullable=False, index=True),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("practitioner", sa.String(64)),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
        sa.Column("used_at", sa.Integer),
        sa.Column("account_id", sa.String(36)),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Integer, nullable=False, index=True),
        sa.Column("department", sa.String(40), nullable=False, index=True),
        sa.Column("actor", sa.String(36), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(64)),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("staff_audit")
    op.drop_table("staff_invites")
    op.drop_table("staff_recovery_codes")
    op.drop_table("staff_accounts")
