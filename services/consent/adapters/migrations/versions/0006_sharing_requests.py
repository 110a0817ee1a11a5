"""Sharing requests: a department's clinician asks a patient to share records with it, and the
patient (or a caregiver) approves, which grants a consent, or declines. One table, with who
asked and who answered kept beside each request.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from services.consent.adapters.tables import SHARING_OPEN, sharing_request_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("sharing_requests", *sharing_request_columns(),
                    sa.UniqueConstraint("department", "patient", "open_key", name=SHARING_OPEN))
    op.create_index("ix_sharing_requests_patient", "sharing_requests", ["patient", "created_at"])
    op.create_index("ix_sharing_requests_department", "sharing_requests", ["department", "created_at"])


def downgrade() -> None:
    op.drop_table("sharing_requests")
