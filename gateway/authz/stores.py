"""The authorization server's stores: clients, authorization codes, login tickets and tokens."""
from __future__ import annotations

import json

import sqlalchemy as sa

from gateway import schema as t
from gateway import storage
from gateway.accounts.stores import grant_in_force
from gateway.authz.models import AuthorizationCode, Client, TokenRecord
from gateway.storage import TableStore
from services.common.db import transaction


class ClientStore(TableStore):
    """Registered clients, and the client assertions already used (RFC 7523 section 3, item 7).

    Operators register clients with gateway/admin/clients.py; only hashes of secrets are kept.
    """

    def client(self, client_id: str) -> Client | None:
        """Load a client by id; None for one that is unknown or disabled (a disabled
        department's: the token endpoint refuses it like an unknown one)."""
        row = self._one(sa.select(t.clients).where(t.clients.c.client_id == client_id))
        if row is None or row["disabled_at"] is not None:
            return None
        return Client(client_id=row["client_id"], kind=row["kind"], name=row["name"],
                      secret_hash=row["secret_hash"],
                      jwks=json.loads(row["jwks"]) if row["jwks"] else None,
                      scope=row["scope"], redirect_uris=json.loads(row["redirect_uris"]))

    def remember_assertion(self, key: str, expires_at: int) -> bool:
        """Record a client assertion's jti; False when it was seen before."""
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.assertion_jtis)
                         .where(t.assertion_jtis.c.expires_at < storage.now()))
            seen = conn.execute(sa.select(t.assertion_jtis.c.key)
                                .where(t.assertion_jtis.c.key == key)).first()
            if seen:
                return False
            conn.execute(sa.insert(t.assertion_jtis).values(key=key, expires_at=expires_at))
            return True

    def add_department(self, name: str, scopes: str, secret: str) -> bool:
        """Register department NAME (client_id = NAME) with SECRET; False when it exists already.

        The directory registers a department's client with its entry, in one transaction
        (gateway/directory/store.py, through insert_department); this one is the client alone.
        """
        with transaction(self.engine) as conn:
            return self.insert_department(conn, name, scopes, secret)

    @staticmethod
    def insert_department(conn, name: str, scopes: str, secret: str) -> bool:
        """Insert department NAME's client in the caller's transaction; False when a client of
        that id exists already (of any kind)."""
        return storage.inserted(conn, t.clients, client_id=name, kind="department", name=name,
                                secret_hash=storage.digest(secret), jwks=None, scope=scopes,
                                redirect_uris="[]", created_at=storage.now())

    @staticmethod
    def exists(conn, client_id: str) -> bool:
        """Whether any client (department, portal, service, admin) has CLIENT_ID."""
        return conn.execute(sa.select(t.clients.c.client_id)
                            .where(t.clients.c.client_id == client_id)).first() is not None

    @staticmethod
    def set_scopes(conn, client_id: str, scopes: str) -> None:
        """Give client CLIENT_ID these SCOPES from its next token on, in the caller's transaction."""
        conn.execute(sa.update(t.clients).where(t.clients.c.client_id == client_id)
                     .values(scope=scopes))

    @staticmethod
    def disable(conn, client_id: str) -> None:
        """Refuse client CLIENT_ID from now on, in the caller's transaction.

        This update takes the client's row lock, which TokenStore.save_token reads its client
        under: a token being saved meanwhile either commits first (and the caller, revoking the
        client's tokens after this, finds it) or waits and is refused.
        """
        conn.execute(sa.update(t.clients).where(t.clients.c.client_id == client_id)
                     .values(disabled_at=storage.now()))

    def set_department_jwks(self, name: str, public_jwks: dict) -> bool:
        """Let department NAME authenticate with private_key_jwt; False when there is none."""
        with transaction(self.engine) as conn:
            return conn.execute(sa.update(t.clients).where(
                t.clients.c.client_id == name, t.clients.c.kind == "department"
            ).values(jwks=json.dumps(public_jwks))).rowcount == 1

    def save_portal(self, client_id: str, scope: str, redirect_uris: list[str]) -> None:
        """Register the public patient-portal client, or update its scopes and redirect URIs."""
        self._save_public("portal", "Patient portal", client_id, scope, redirect_uris)

    def save_console(self, client_id: str, scope: str, redirect_uris: list[str]) -> None:
        """Register the public staff-console client, or update its scopes and redirect URIs."""
        self._save_public("console", "Staff console", client_id, scope, redirect_uris)

    def _save_public(self, kind: str, name: str, client_id: str, scope: str,
                     redirect_uris: list[str]) -> None:
        values = dict(kind=kind, name=name, secret_hash=None, jwks=None,
                      scope=scope, redirect_uris=json.dumps(list(redirect_uris)))
        with transaction(self.engine) as conn:
            exists = conn.execute(sa.select(t.clients.c.client_id)
                                  .where(t.clients.c.client_id == client_id)).first()
            if exists:
                conn.execute(sa.update(t.clients).where(t.clients.c.client_id == client_id)
                             .values(**values))
            else:
                conn.execute(sa.insert(t.clients).values(client_id=client_id,
                                                         created_at=storage.now(), **values))

    def save_service(self, name: str, scopes: str, secret: str) -> None:
        """Register service client NAME with SECRET, or give it SECRET and SCOPES."""
        self._save_confidential("service", name, scopes, secret)

    def save_admin(self, client_id: str, scopes: str, secret: str) -> None:
        """Register the administrators' client with SECRET, or give it SECRET and SCOPES."""
        self._save_confidential("admin", client_id, scopes, secret)

    def _save_confidential(self, kind: str, name: str, scopes: str, secret: str) -> None:
        with transaction(self.engine) as conn:
            exists = conn.execute(sa.select(t.clients.c.client_id)
                                  .where(t.clients.c.client_id == name)).first()
            if exists:
                conn.execute(sa.update(t.clients).where(t.clients.c.client_id == name)
                             .values(secret_hash=storage.digest(secret), scope=scopes))
            else:
                conn.execute(sa.insert(t.clients).values(
                    client_id=name, kind=kind, name=name, secret_hash=storage.digest(secret),
                    jwks=None, scope=scopes, redirect_uris="[]", created_at=storage.now()))


class CodeStore(TableStore):
    """Authorization codes (RFC 6749 section 4.1.2): short-lived, used once, kept hashed."""

    def save_code(self, code: str, client_id: str, account_id: str | None, redirect_uri: str,
                  scope: str, challenge: str, method: str, ttl: int = 300,
                  grant_id: str | None = None, staff_id: str | None = None,
                  nonce: str | None = None) -> None:
        """Keep CODE for ACCOUNT_ID (a portal account) or STAFF_ID (a member of staff)."""
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.auth_codes).where(t.auth_codes.c.expires_at < storage.now()))
            conn.execute(sa.insert(t.auth_codes).values(
                code_hash=storage.digest(code), client_id=client_id, account_id=account_id,
                redirect_uri=redirect_uri, scope=scope, code_challenge=challenge,
                code_challenge_method=method, expires_at=storage.now() + ttl, grant_id=grant_id,
                staff_id=staff_id, nonce=nonce))

    def code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Load an unexpired code issued to CLIENT_ID."""
        row = self._one(sa.select(t.auth_codes).where(
            t.auth_codes.c.code_hash == storage.digest(code), t.auth_codes.c.client_id == client_id,
            t.auth_codes.c.expires_at >= storage.now()))
        return AuthorizationCode(**row) if row else None

    def delete_code(self, code_hash: str) -> bool:
        """Delete a code; False when another request already used it."""
        with transaction(self.engine) as conn:
            return conn.execute(sa.delete(t.auth_codes)
                                .where(t.auth_codes.c.code_hash == code_hash)).rowcount == 1


class TicketStore(TableStore):
    """Login tickets: who signed in, between the password and the next page.

    A patient's ticket (no step) opens the approval page. A member of staff's names the step
    it opens (gateway/authz/authorize.py): the second factor after the password, the
    enrolment of a pending account, or the code once both are done. Each is used once; a
    ticket of one step never opens another, and every ticket is bound to one authorization
    request, so the password and the second factor are one person's, in one sign-in.
    """

    def save_ticket(self, ticket: str, account_id: str | None, request_hash: str, ttl: int = 600,
                    staff_id: str | None = None, step: str | None = None) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.login_tickets)
                         .where(t.login_tickets.c.expires_at < storage.now()))
            conn.execute(sa.insert(t.login_tickets).values(
                ticket_hash=storage.digest(ticket), account_id=account_id,
                request_hash=request_hash, expires_at=storage.now() + ttl,
                staff_id=staff_id, step=step))

    def take_ticket(self, ticket: str, request_hash: str) -> str | None:
        """Consume a patient's ticket issued for the same authorization request; return its
        account id."""
        row = self._take(ticket, request_hash)
        return row["account_id"] if row is not None and row["step"] is None else None

    def take_staff_ticket(self, ticket: str, request_hash: str, step: str) -> str | None:
        """Consume a member of staff's ticket for STEP of the same authorization request;
        return its staff account id."""
        row = self._take(ticket, request_hash)
        return row["staff_id"] if row is not None and row["step"] == step else None

    def _take(self, ticket: str, request_hash: str):
        if not isinstance(ticket, str) or not ticket:
            return None
        c = t.login_tickets.c
        with transaction(self.engine) as conn:
            row = conn.execute(sa.select(t.login_tickets).where(
                c.ticket_hash == storage.digest(ticket),
                c.expires_at >= storage.now())).mappings().first()
            if row is None or row["request_hash"] != request_hash:
                return None
            taken = conn.execute(sa.delete(t.login_tickets)
                                 .where(c.ticket_hash == row["ticket_hash"])).rowcount
            return row if taken == 1 else None  # two tries with one ticket: one wins


class TokenStore(TableStore):
    """Issued access tokens by jti, the refresh tokens issued with them, and the revocations
    every process polls (gateway/authz/revocation.py)."""

    def save_token(self, app_use=None, **values) -> bool:
        """Record an issued token; False, and nothing stored, when its client was disabled, its
        caregiver grant has ended or was stopped, its member of staff's account or department
        was disabled since they were checked, or (APP_USE, a patient's app: called with the
        connection, False when the patient disconnected the app) the app's approval is gone:
        the token must not be handed out."""
        with transaction(self.engine) as conn:
            if not client_in_service(conn, values["client_id"]):
                return False
            if app_use is not None and not app_use(conn):
                return False
            if values.get("grant_id") and not grant_in_force(conn, values["grant_id"]):
                return False
            if values.get("staff_id") and not staff_in_service(conn, values["staff_id"]):
                return False
            conn.execute(sa.insert(t.tokens).values(**values))
        return True

    def token_by_jti(self, jti: str) -> TokenRecord | None:
        row = self._one(sa.select(t.tokens).where(t.tokens.c.jti == jti))
        return TokenRecord(**row) if row else None

    def token_by_refresh(self, refresh_token: str) -> TokenRecord | None:
        row = self._one(sa.select(t.tokens)
                        .where(t.tokens.c.refresh_hash == storage.digest(refresh_token)))
        return TokenRecord(**row) if row else None

    def revoke(self, jtis: list[str], refresh: bool) -> None:
        """Revoke the access tokens JTIS (and their refresh tokens when REFRESH)."""
        with transaction(self.engine) as conn:
            _revoke(conn, sa.select(t.tokens).where(t.tokens.c.jti.in_(jtis)), refresh)

    def revoke_family(self, family: str) -> None:
        """Revoke every token of one login (refresh token reuse, RFC 9700 section 4.14.2)."""
        with transaction(self.engine) as conn:
            _revoke(conn, sa.select(t.tokens).where(t.tokens.c.family == family), True)

    def retire_refresh(self, jti: str) -> bool:
        """Mark a rotated refresh token used; False when it was already used."""
        with transaction(self.engine) as conn:
            return conn.execute(sa.update(t.tokens).where(
                t.tokens.c.jti == jti, t.tokens.c.refresh_revoked == sa.false()
            ).values(refresh_revoked=True)).rowcount == 1

    def revoked_since(self, last_id: int) -> list[tuple[int, str, int]]:
        """Return (id, jti, expires_at) of revocations newer than LAST_ID that still matter."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.revoked_jtis.c.id, t.revoked_jtis.c.jti,
                                          t.revoked_jtis.c.expires_at)
                                .where(t.revoked_jtis.c.id > last_id)
                                .order_by(t.revoked_jtis.c.id)).all()
        return [tuple(r) for r in rows]

    def prune(self, cutoff: int) -> int:
        """Delete the token rows whose access token and refresh token (if any) expired before
        CUTOFF; return how many."""
        tokens = t.tokens
        with transaction(self.engine) as conn:
            return conn.execute(tokens.delete().where(
                tokens.c.expires_at < cutoff,
                sa.or_(tokens.c.refresh_expires_at.is_(None),
                       tokens.c.refresh_expires_at < cutoff))).rowcount

    def prune_revocations(self, cutoff: int) -> int:
        """Delete the revocations of access tokens that expired before CUTOFF, except the newest
        row; return how many.

        The revocation pollers (gateway/authz/revocation.py) read rows by id; SQLite, without
        AUTOINCREMENT, hands out the largest id + 1, so deleting the newest row would let the
        next revocation take an id a poller has already passed. An expired token needs no
        revocation: its ``exp`` refuses it everywhere.
        """
        revoked = t.revoked_jtis
        with transaction(self.engine) as conn:
            newest = conn.execute(sa.select(sa.func.max(revoked.c.id))).scalar()
            if newest is None:
                return 0
            return conn.execute(revoked.delete().where(revoked.c.expires_at < cutoff,
                                                       revoked.c.id < newest)).rowcount

    @staticmethod
    def revoke_client_tokens(conn, client_id: str) -> None:
        """Revoke every token issued to client CLIENT_ID, in the caller's transaction (the
        directory's, which disables the department in the same one)."""
        _revoke(conn, sa.select(t.tokens).where(t.tokens.c.client_id == client_id), True)

    @staticmethod
    def revoke_staff_tokens(conn, staff_id: str) -> None:
        """Revoke every token of member of staff STAFF_ID, in the caller's transaction (the
        staff store's, which disables the account or changes its roles in the same one)."""
        _revoke(conn, sa.select(t.tokens).where(t.tokens.c.staff_id == staff_id), True)

    @staticmethod
    def revoke_department_staff_tokens(conn, department: str) -> None:
        """Revoke every token of DEPARTMENT's staff, in the caller's transaction (the
        directory's, which disables the department in the same one)."""
        staff = sa.select(t.staff_accounts.c.id).where(t.staff_accounts.c.department == department)
        _revoke(conn, sa.select(t.tokens).where(t.tokens.c.staff_id.in_(staff)), True)

    @staticmethod
    def revoke_app_tokens(conn, account_id: str, client_id: str) -> None:
        """Revoke every token app CLIENT_ID holds for portal account ACCOUNT_ID, in the caller's
        transaction (gateway/authz/app_store.py, which forgets the approval in the same one)."""
        _revoke(conn, sa.select(t.tokens).where(t.tokens.c.client_id == client_id,
                                                t.tokens.c.account_id == account_id), True)

    @staticmethod
    def revoke_grant_tokens(conn, grant_id: str) -> None:
        """Revoke every token issued under a caregiver's grant, in the caller's transaction
        (the grant store's revoke_grant, which stops the grant in the same one)."""
        _revoke(conn, sa.select(t.tokens).where(t.tokens.c.grant_id == grant_id), True)


def client_in_service(conn, client_id: str) -> bool:
    """Is the client there and not disabled, read under a shared lock on its row (TokenStore.save_token
    asks, in the transaction that stores its token)? ClientStore.disable updates that row, so it
    either commits first (and this token is refused) or waits for this transaction (and then
    its caller finds the token and revokes it): no token of a disabled department outlives it."""
    row = conn.execute(sa.select(t.clients.c.disabled_at).where(t.clients.c.client_id == client_id)
                       .with_for_update(read=True)).first()
    return row is not None and row.disabled_at is None


def staff_in_service(conn, staff_id: str) -> bool:
    """Is member of staff STAFF_ID active, in an active department, read under shared locks on
    both rows? Disabling the account (gateway/accounts/staff_store.py) or the department
    (gateway/directory/store.py) updates one of them, so, as for client_in_service, no token
    is stored for an account or department disabled meanwhile without being revoked."""
    row = conn.execute(sa.select(t.staff_accounts.c.status, t.staff_accounts.c.department)
                       .where(t.staff_accounts.c.id == staff_id).with_for_update(read=True)).first()
    if row is None or row.status != "active":
        return False
    dept = conn.execute(sa.select(t.departments.c.status).where(t.departments.c.id == row.department)
                        .with_for_update(read=True)).first()
    return dept is not None and dept.status == "active"


def _revoke(conn, query, refresh: bool) -> None:
    """Revoke the access tokens QUERY selects (and their refresh tokens when REFRESH); list the
    unexpired ones in revoked_jtis, which every process polls."""
    rows = conn.execute(query).mappings().all()
    values = {"access_revoked": True}
    if refresh:
        values["refresh_revoked"] = True
    for row in rows:
        conn.execute(sa.update(t.tokens).where(t.tokens.c.jti == row["jti"]).values(**values))
        if not row["access_revoked"] and row["expires_at"] >= storage.now():
            conn.execute(sa.insert(t.revoked_jtis).values(jti=row["jti"],
                                                          expires_at=row["expires_at"]))
