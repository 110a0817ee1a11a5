"""Revocation receipts: a department may register a webhook URL in its directory entry (where the
exchange POSTs a signed notice when a consent it received records under ends), and its clinicians
and privacy officers read those notices in the inbox (GET /staff/v1/inbox/notices, which needs
user/Communication.rs): the staff console's client (phr-console) registered before is given it,
so an upgraded deployment's staff get it at their next sign-in. (``make up`` and
``python -m gateway.admin console`` also write the console's whole scope.)

Revision ID: 0019_department_webhooks
Revises: 0017_custodian_delete_scope
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_department_webhooks"
down_revision = "0018_subscription_scope"
branch_labels = None
depends_on = None

_SCOPE = "user/Communication.rs"
_CONSOLE = "phr-console"
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("scope", sa.Text))


def _set(add: bool) -> None:
    conn = op.get_bind()
    scope = conn.execute(sa.select(clients.c.scope).where(clients.c.client_id == _CONSOLE)).scalar()
    if scope is None:
        return  # no console registered yet: it is registered with its whole scope
    words = [w for w in scope.split() if w != _SCOPE] + ([_SCOPE] if add else [])
    conn.execute(clients.update().where(clients.c.client_id == _CONSOLE).values(scope=" ".join(words)))


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("webhook_url", sa.Text, nullable=True))
    _set(add=True)


def downgrade() -> None:
    _set(add=False)
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("webhook_url")
