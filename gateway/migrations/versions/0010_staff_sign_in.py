"""Department staff sign in through the authorization server: codes, tokens and login tickets
may be issued to a staff account.

``auth_codes.account_id``, ``tokens.account_id`` and ``login_tickets.account_id`` are foreign
keys to the portal's ``accounts``, so a staff account's id cannot be stored there. Each table
gets a ``staff_id`` of its own (a foreign key to ``staff_accounts``), and ``account_id``
becomes optional on codes and tickets: a row names one or the other. ``login_tickets.step``
says which step of a staff sign-in the ticket opens (the second factor, the enrolment, or the
code once both are done), so a ticket of one step never opens another; a patient's ticket has
none. Existing rows keep their values.

Revision ID: 0010_staff_sign_in
Revises: 0009_staff_accounts
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_staff_sign_in"
down_revision = "0009_staff_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_codes") as batch:
        batch.alter_column("account_id", existing_type=sa.String(36), nullable=True)
        batch.add_column(sa.Column("staff_id", sa.String(36)))
        batch.create_foreign_key("fk_auth_codes_staff_id", "staff_accounts", ["staff_id"], ["id"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("staff_id", sa.String(36)))
        batch.create_foreign_key("fk_tokens_staff_id", "staff_accounts", ["staff_id"], ["id"])
        batch.create_index("ix_tokens_staff_id", ["staff_id"])
    with op.batch_alter_table("login_tickets") as batch:
        batch.alter_column("account_id", existing_type=sa.String(36), nullable=True)
        batch.add_column(sa.Column("staff_id", sa.String(36)))
        batch.add_column(sa.Column("step", sa.String(16)))
        batch.create_foreign_key("fk_login_tickets_staff_id", "staff_accounts", ["staff_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("login_tickets") as batch:
        batch.drop_constraint("fk_login_tickets_staff_id", type_="foreignkey")
        batch.drop_column("step")
        batch.drop_column("staff_id")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_staff_id")
        batch.drop_constraint("fk_tokens_staff_id", type_="foreignkey")
        batch.drop_column("staff_id")
    with op.batch_alter_table("auth_codes") as batch:
        batch.drop_constraint("fk_auth_codes_staff_id", type_="foreignkey")
        batch.drop_column("staff_id")
