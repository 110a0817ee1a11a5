"""Break-the-glass claims keep the clinician who claimed, when a person did (a staff token).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

from services.consent.adapters.tables import break_glass_claimant_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claims made before this revision were the department's client's: they keep NULL.
    with op.batch_alter_table("break_glass") as batch:
        for column in break_glass_claimant_columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("break_glass") as batch:
        batch.drop_column("claimed_by_user")
        batch.drop_column("claimed_by")
