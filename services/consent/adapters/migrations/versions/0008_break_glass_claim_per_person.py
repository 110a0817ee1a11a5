"""One open break-the-glass claim per patient, department and claimant: a second clinician's
claim while a colleague's is in force is recorded, told and reviewed as their own.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from services.consent.adapters.tables import (OPEN_CLAIM, OPEN_CLAIM_BY, OPEN_CLAIM_KEY,
                                              break_glass_claimant_key_columns)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("break_glass") as batch:
        for column in break_glass_claimant_key_columns():
            batch.add_column(column)
    op.execute(sa.text("UPDATE break_glass SET claimant = COALESCE(claimed_by, '')"))
    with op.batch_alter_table("break_glass") as batch:
        batch.drop_constraint(OPEN_CLAIM, type_="unique")
        batch.create_unique_constraint(OPEN_CLAIM_BY, list(OPEN_CLAIM_KEY))


def downgrade() -> None:
    # Two people's open claims for one patient and department would collide under the old rule:
    # all but the newest lose their open marker (they stay in force by their expiry).
    op.execute(sa.text(
        "UPDATE break_glass SET open_claim = NULL WHERE open_claim IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM break_glass b WHERE b.patient = break_glass.patient "
        "AND b.department = break_glass.department AND b.open_claim IS NOT NULL "
        "AND (b.created_at > break_glass.created_at "
        "OR (b.created_at = break_glass.created_at AND b.id > break_glass.id)))"))
    with op.batch_alter_table("break_glass") as batch:
        batch.drop_constraint(OPEN_CLAIM_BY, type_="unique")
        batch.create_unique_constraint(OPEN_CLAIM, ["patient", "department", "open_claim"])
        batch.drop_column("claimant")
