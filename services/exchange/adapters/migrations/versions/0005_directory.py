"""The service's copy of the directory of departments (services/common/directory.py), kept
from phr.directory.v1, so departments are data this service learns, not names in its code.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

from services.common.directory import create_directory_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_directory_table(op)


def downgrade() -> None:
    op.drop_table("departments")
