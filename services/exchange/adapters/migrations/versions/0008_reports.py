"""Reports (feedback and incidents): the reports people make, how many staff each department has
(an anonymous report keeps its department only in one of 5 or more), and whose each correction
request is (a report is linked only to one of its department's).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("about", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reporter_kind", sa.String(16), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("patient", sa.String(64), nullable=True, index=True),
        sa.Column("acting", sa.String(64), nullable=True),
        sa.Column("staff", sa.String(64), nullable=True, index=True),
        sa.Column("staff_user", sa.String(100), nullable=True),
        sa.Column("staff_department", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("assignee_user", sa.String(100), nullable=True),
        sa.Column("links", sa.Text, nullable=False),
        sa.Column("correction_request", sa.String(72), nullable=True, index=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_reports_queue", "reports", ["department", "received_at"])
    op.create_table(
        "staff_members",
        sa.Column("staff_id", sa.String(36), primary_key=True),
        sa.Column("department", sa.String(100), nullable=False, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "correction_requests",
        sa.Column("task", sa.String(72), primary_key=True),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("custodian", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("correction_requests")
    op.drop_table("staff_members")
    op.drop_index("ix_reports_queue", "reports")
    op.drop_table("reports")
