"""Break-the-glass claims name their sensitive labels; one open claim per patient and department.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from services.consent.adapters.tables import OPEN_CLAIM, break_glass_claim_columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claims made before this revision keep open_claim = NULL: the claim handler still finds
    # one in force by its expiry; the marker only guards claims made from now on in a race.
    with op.batch_alter_table("break_glass") as batch:
        for column in break_glass_claim_columns():
            batch.add_column(column)
        batch.create_unique_constraint(OPEN_CLAIM, ["patient", "department", "open_claim"])


def downgrade() -> None:
    with op.batch_alter_table("break_glass") as batch:
        batch.drop_constraint(OPEN_CLAIM, type_="unique")
        batch.drop_column("open_claim")
        batch.drop_column("sensitive")
