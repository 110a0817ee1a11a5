"""Revocation receipts: when a consent is revoked or expires, each department that received
records under it gets a notice in its inbox, and a signed webhook when it registered a URL in
the directory; the patient gets a receipt naming each department told (docs/architecture.md,
"Revocation receipts").

- ``department_notices``: one per (ended consent, department told), with the releases it covered;
- ``webhook_deliveries``: one per notice sent to a department's webhook (the signed body, its
  status and when to try next), and ``webhook_attempts``, one row per try;
- ``department_webhooks``: the webhook URL of each department, from its directory entry
  (phr.directory.department-registered carries ``webhook_url``).

Revision ID: 0011
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department_notices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.Column("consent_version", sa.Integer, nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("releases", sa.Text, nullable=False),
        sa.Column("source_id", sa.String(160), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_department_notices_inbox", "department_notices", ["department", "created_at"])
    op.create_index("ix_department_notices_consent", "department_notices", ["consent_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("notice_id", sa.String(36), nullable=False, unique=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_table(
        "department_webhooks",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("department_webhooks")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_department_notices_consent", "department_notices")
    op.drop_index("ix_department_notices_inbox", "department_notices")
    op.drop_table("department_notices")
