"""A department that may add and change records may also delete what it holds: clients that
held ``system/*.cu`` (gateway/authz/departments.py WRITE) get ``system/*.cud``. Records lets
only a resource's custodian delete it (a deleted resource then reads 410 Gone and keeps its
history), so this reaches no other department's data.

Revision ID: 0017_custodian_delete_scope
Revises: 0016_patient_apps
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_custodian_delete_scope"
down_revision = "0016_patient_apps"
branch_labels = None
depends_on = None

_BEFORE, _AFTER = "system/*.cu", "system/*.cud"
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def _swap(old: str, new: str) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "department")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if old in words:
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join(new if w == old else w for w in words)))


def upgrade() -> None:
    _swap(_BEFORE, _AFTER)


def downgrade() -> None:
    _swap(_AFTER, _BEFORE)
