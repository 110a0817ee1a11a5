"""Break-the-glass has a scope of its own (system/BreakGlass.c, which no wildcard covers).

A department granted a consent-create scope by name (system/Consent.c and the like) held
it only to break the glass, so it keeps that right under the new scope; a department that
reached it through a wildcard (system/*.cu) loses it, as intended.

Revision ID: 0006_break_glass_scope
Revises: 0005_outbox_dead_letters
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0006_break_glass_scope"
down_revision = "0005_outbox_dead_letters"
branch_labels = None
depends_on = None

_CONSENT_CREATE = re.compile(r"^system/Consent\.([cruds]*c[cruds]*|write|\*)$")
_BREAK_GLASS = "system/BreakGlass.c"
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "department")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _BREAK_GLASS not in words and any(_CONSENT_CREATE.match(w) for w in words):
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join([*words, _BREAK_GLASS])))


def downgrade() -> None:
    conn = op.get_bind()
    for client_id, scope in conn.execute(sa.select(clients.c.client_id, clients.c.scope)).all():
        words = (scope or "").split()
        if _BREAK_GLASS in words:
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(scope=" ".join(w for w in words if w != _BREAK_GLASS)))
