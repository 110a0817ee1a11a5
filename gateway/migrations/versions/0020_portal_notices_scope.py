"""Choosing how notices reach a person (their email address or mobile number, and a channel per
topic: /patient/v1/notification-preferences) needs patient/Communication.u: the portal client,
registered before it, is given it, so an upgraded deployment's patients can choose once they sign
in again (tokens issued before keep the scopes they had).

Revision ID: 0020_portal_notices_scope
Revises: 0019_department_webhooks
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_portal_notices_scope"
down_revision = "0019_department_webhooks"
branch_labels = None
depends_on = None

_CHOOSE = "patient/Communication.u"
# A client that could read notices before: any patient search scope was enough.
_COULD_READ = ("patient/*.rs", "patient/*.read", "patient/*.s", "patient/*.*", "patient/*.cruds")
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "portal")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _CHOOSE not in words and any(w in _COULD_READ for w in words):
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join([*words, _CHOOSE])))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "portal")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _CHOOSE in words:
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join(w for w in words if w != _CHOOSE)))
