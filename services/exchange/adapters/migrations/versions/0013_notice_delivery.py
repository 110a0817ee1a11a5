"""Notices outside the app: each person's verified addresses, their choice per topic, and a
delivery per notice, person and channel with a row per attempt (adapters/tables.py).

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out, not imported from adapters/tables.py: a migration must keep building what it
    # built when later migrations change the tables.
    op.create_table(
        "notice_contacts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),  # email | sms
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),  # what the messages are written in
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("patient", "person", "channel", name="uq_notice_contacts_person_channel"),
    )
    op.create_table(
        "notice_choices",
        sa.Column("patient", sa.String(64), primary_key=True),
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(8), nullable=False),  # in-app | email | sms
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("notification_id", sa.String(36), nullable=False, index=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("notification_id", "person", "channel", name="uq_notice_deliveries_once"),
    )
    op.create_table(
        "notice_delivery_attempts",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),  # delivered | failed
        sa.Column("detail", sa.String(300), nullable=True),  # the server's answer; never the message
    )


def downgrade() -> None:
    for name in ("notice_delivery_attempts", "notice_deliveries", "notice_choices", "notice_contacts"):
        op.drop_table(name)
