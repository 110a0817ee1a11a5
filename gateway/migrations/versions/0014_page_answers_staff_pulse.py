"""Asking people how it went: answers to "Was this page easy to understand?" on the portal's
pages, and the staff's weekly pulse in the console (gateway/portal/page_answers.py,
gateway/portal/pulse.py). Neither table names a person.

Revision ID: 0014_page_answers_staff_pulse
Revises: 0013_report_and_measure_scopes
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_page_answers_staff_pulse"
down_revision = "0013_report_and_measure_scopes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_answers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("page", sa.String(40), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("answer", sa.String(8), nullable=False),
        sa.Column("comment", sa.String(300)),
        sa.Column("day", sa.String(10), nullable=False),
    )
    op.create_index("ix_page_answers_page", "page_answers", ["page", "language", "answer"])
    op.create_table(
        "staff_pulse_answers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("workload", sa.String(16)),
        sa.Column("system", sa.String(16)),
    )
    op.create_index("ix_staff_pulse_answers_week", "staff_pulse_answers", ["week", "department"])
    op.create_table(
        "staff_pulse_taken",
        sa.Column("staff_id", sa.String(36), primary_key=True),
        sa.Column("week", sa.String(8), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("staff_pulse_taken")
    op.drop_index("ix_staff_pulse_answers_week", table_name="staff_pulse_answers")
    op.drop_table("staff_pulse_answers")
    op.drop_index("ix_page_answers_page", table_name="page_answers")
    op.drop_table("page_answers")
