"""Clinical departments may subscribe to a patient's new records (FHIR R4 Subscription, served by
the exchange; notifications go out only under the patient's consent): clients of clinical
departments (those holding ``system/*.rs``, gateway/authz/departments.py CLINICAL) get
``system/Subscription.cd``; reading and searching their subscriptions is under ``system/*.rs``.

Revision ID: 0018_subscription_scope
Revises: 0017_custodian_delete_scope
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_subscription_scope"
down_revision = "0017_custodian_delete_scope"
branch_labels = None
depends_on = None

_MARK, _SCOPE = "system/*.rs", "system/Subscription.cd"
clients = sa.table("clients", sa.column("client_id", sa.String), sa.column("kind", sa.String),
                   sa.column("scope", sa.Text))


def _change(add: bool) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(clients.c.client_id, clients.c.scope)
                        .where(clients.c.kind == "department")).all()
    for client_id, scope in rows:
        words = (scope or "").split()
        if _MARK not in words or (_SCOPE in words) == add:
            continue
        words = words + [_SCOPE] if add else [w for w in words if w != _SCOPE]
        conn.execute(clients.update().where(clients.c.client_id == client_id).values(scope=" ".join(words)))


def upgrade() -> None:
    _change(True)


def downgrade() -> None:
    _change(False)
