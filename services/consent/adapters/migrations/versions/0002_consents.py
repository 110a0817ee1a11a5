"""Consents and break-the-glass grants.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from services.consent.adapters.tables import break_glass_columns, consent_columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("consents", *consent_columns())
    op.create_index("ix_consents_patient_grantee", "consents", ["patient", "grantee_id"])
    op.create_index("ix_consents_status_end", "consents", ["status", "period_end"])
    op.create_table("break_glass", *break_glass_columns())
    op.create_index("ix_break_glass_patient_dept", "break_glass", ["patient", "department"])


def downgrade() -> None:
    op.drop_table("break_glass")
    op.drop_table("consents")
