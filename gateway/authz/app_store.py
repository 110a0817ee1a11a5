"""Patients' own apps (SMART App Launch 2): the apps registered by themselves (RFC 7591) and
which of them each patient approved, with what, and when each last got a token."""
from __future__ import annotations

import json

import sqlalchemy as sa

from gateway import schema as t
from gateway import storage
from gateway.authz.models import APP
from gateway.authz.stores import ClientStore, TokenStore
from gateway.storage import TableStore
from services.common.db import transaction


class AppStore(TableStore):
    """Registered apps and patients' approvals; disconnecting revokes the app's tokens."""

    def register(self, client_id: str, name: str, scope: str, redirect_uris: list[str],
                 jwks: dict | None, address: str) -> None:
        """Store a new app under CLIENT_ID (made by the registration endpoint, not the app)."""
        with transaction(self.engine) as conn:
            conn.execute(sa.insert(t.clients).values(
                client_id=client_id, kind=APP, name=name, secret_hash=None,
                jwks=json.dumps(jwks) if jwks else None, scope=scope,
                redirect_uris=json.dumps(redirect_uris), created_at=storage.now(),
                registered_from=address[:64]))

    def approve(self, account_id: str, client_id: str, scope: str) -> None:
        """Record that the patient approved CLIENT_ID for SCOPE (again: the newest scope)."""
        at = storage.now()
        with transaction(self.engine) as conn:
            done = conn.execute(sa.update(t.app_approvals).where(
                t.app_approvals.c.account_id == account_id, t.app_approvals.c.client_id == client_id,
            ).values(scope=scope, approved_at=at)).rowcount
            if not done and not storage.inserted(conn, t.app_approvals, account_id=account_id,
                                                 client_id=client_id, scope=scope, approved_at=at,
                                                 last_used_at=None):
                conn.execute(sa.update(t.app_approvals).where(
                    t.app_approvals.c.account_id == account_id,
                    t.app_approvals.c.client_id == client_id).values(scope=scope, approved_at=at))

    def touch(self, conn, account_id: str, client_id: str) -> bool:
        """Note that CLIENT_ID got a token for ACCOUNT_ID now, in the caller's transaction; False
        when the patient disconnected it (no approval any more: the token must not be given)."""
        return conn.execute(sa.update(t.app_approvals).where(
            t.app_approvals.c.account_id == account_id, t.app_approvals.c.client_id == client_id,
        ).values(last_used_at=storage.now())).rowcount == 1

    def approved(self, account_id: str) -> list[dict]:
        """The apps ACCOUNT_ID approved, most recently used first."""
        a, c = t.app_approvals.c, t.clients.c
        query = (sa.select(a.client_id, c.name, a.scope, a.approved_at, a.last_used_at)
                 .join(t.clients, c.client_id == a.client_id).where(a.account_id == account_id)
                 .order_by(sa.func.coalesce(a.last_used_at, a.approved_at).desc(), c.name))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def disconnect(self, account_id: str, client_id: str) -> bool:
        """Forget the approval and revoke every token CLIENT_ID holds for ACCOUNT_ID, in one
        transaction; False when there was no such approval."""
        with transaction(self.engine) as conn:
            gone = conn.execute(sa.delete(t.app_approvals).where(
                t.app_approvals.c.account_id == account_id,
                t.app_approvals.c.client_id == client_id)).rowcount
            TokenStore.revoke_app_tokens(conn, account_id, client_id)
        return gone == 1

    def registered(self) -> list[dict]:
        """Every app registered here, newest first, for operators: where it registered from, how
        many patients approved it, when it last got a token, and whether it is blocked."""
        a, c = t.app_approvals.c, t.clients.c
        approvals = (sa.select(a.client_id, sa.func.count().label("patients"),
                               sa.func.max(a.last_used_at).label("last_used_at"))
                     .group_by(a.client_id).subquery())
        query = (sa.select(c.client_id, c.name, c.scope, c.created_at, c.registered_from, c.disabled_at,
                           sa.func.coalesce(approvals.c.patients, 0).label("patients"),
                           approvals.c.last_used_at)
                 .outerjoin(approvals, approvals.c.client_id == c.client_id)
                 .where(c.kind == APP).order_by(c.created_at.desc(), c.client_id))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def block(self, client_id: str) -> bool:
        """Refuse app CLIENT_ID from now on: disable it, revoke every token it holds and forget
        every patient's approval of it, in one transaction; False when no such app is registered."""
        with transaction(self.engine) as conn:
            found = conn.execute(sa.select(t.clients.c.client_id).where(
                t.clients.c.client_id == client_id, t.clients.c.kind == APP)).first()
            if found is None:
                return False
            ClientStore.disable(conn, client_id)  # first: the client's row lock (ClientStore.disable)
            TokenStore.revoke_client_tokens(conn, client_id)
            conn.execute(sa.delete(t.app_approvals).where(t.app_approvals.c.client_id == client_id))
        return True
