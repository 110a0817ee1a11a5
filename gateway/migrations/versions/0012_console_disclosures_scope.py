"""A privacy officer reads the department's accounting of disclosures (GET /staff/v1/disclosures),
which needs user/AuditEvent.rs: the staff console's client (phr-console) registered before is
given it, so an upgraded deployment's privacy officers get it at their next sign-in.
(``make up`` and ``python -m gateway.admin console`` also write the console's whole scope.)

Revision ID: 0012_console_disclosures_scope
Revises: 0011_form_sends
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_console_disclosures_scope"
down_revision = "0011_form_sends"
branch_labels = None
depends_on = None

_SCOPE = "user/AuditEvent.rs"
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
    _set(add=True)


def downgrade() -> None:
    _set(add=False)
