"""Consent-filtered subscriptions: a department's FHIR R4 Subscription (rest-hook, id-only) and
the deliveries it is owed (services/exchange/domain/subscriptions.py, README "Subscriptions").

Revision ID: 0012
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(100), nullable=False, index=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(40), nullable=False),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("payload", sa.String(40), nullable=True),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("end_at", sa.String(40), nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("events_since_start", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subscriptions_patient", "subscriptions", ["patient", "resource_type", "status"])
    op.create_table(
        "subscription_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subscription_id", sa.String(36), nullable=False, index=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("ledger_seq", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_subscription_deliveries_event"),
    )


def downgrade() -> None:
    op.drop_table("subscription_deliveries")
    op.drop_index("ix_subscriptions_patient", table_name="subscriptions")
    op.drop_table("subscriptions")
