"""Filing a correction request needs patient/Task.c: patient-facing clients
registered before it (the portal) are given it, so an upgraded deployment's patients can still
ask for corrections once they sign in again (tokens issued before keep the scopes they had).

Revision ID: 0007_portal_corrections_scope
Revises: 0006_break_glass_scope
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_portal_corrections_scope"
down_revision = "0006_break_glass_scope"
branch_labels = None
depends_on = None

_TASK_CREATE = "patient/Task.c"
# A client that could file correction requests before: any patient read scope was enough.
_COULD_FILE = ("patient/*.rs", "patient/*.read", "patient/*.r", "patient/*.*", "patient/*.cruds")
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "portal")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _TASK_CREATE not in words and any(w in _COULD_FILE for w in words):
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join([*words, _TASK_CREATE])))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "portal")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _TASK_CREATE in words:
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join(w for w in words if w != _TASK_CREATE)))
