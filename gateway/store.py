"""Reads and writes of the gateway's tables; every write is one transaction."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from gateway.accounts import events
from gateway import schema as t
from gateway.accounts.models import Account
from gateway.authz.models import AuthorizationCode, Client, TokenRecord
from gateway.accounts.throttle import SignInPolicy
from services.common.db import transaction


def digest(secret: str) -> str:
    """Hash a high-entropy secret (codes, tokens, client secrets) for storage and lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> int:
    return int(time.time())


def _inserted(conn, table: sa.Table, **values) -> bool:
    """Insert a row; False when a concurrent transaction inserted its key first (PostgreSQL)."""
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(table).values(**values))
        return True
    except IntegrityError:
        return False


class _TooLate(Exception):
    """Another request used the invite first."""


@dataclass
class Store:
    """The gateway's persistence, over one SQLAlchemy engine.

    Writes that other services hear about queue their event in the same transaction
    (gateway/events.py); CHECKER (a contracts.events.EventChecker) validates them first.
    """

    engine: Engine
    checker: object = None

    def _one(self, query):
        with self.engine.connect() as conn:
            return conn.execute(query).mappings().first()

    # clients -------------------------------------------------------------------------
    def client(self, client_id: str) -> Client | None:
        """Load a client by id."""
        row = self._one(sa.select(t.clients).where(t.clients.c.client_id == client_id))
        if row is None:
            return None
        return Client(client_id=row["client_id"], kind=row["kind"], name=row["name"],
                      secret_hash=row["secret_hash"],
                      jwks=json.loads(row["jwks"]) if row["jwks"] else None,
                      scope=row["scope"], redirect_uris=json.loads(row["redirect_uris"]))

    # authorization codes (RFC 6749 section 4.1.2) ------------------------------------
    def save_code(self, code: str, client_id: str, account_id: str, redirect_uri: str,
                  scope: str, challenge: str, method: str, ttl: int = 300,
                  grant_id: str | None = None) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.auth_codes).where(t.auth_codes.c.expires_at < now()))
            conn.execute(sa.insert(t.auth_codes).values(
                code_hash=digest(code), client_id=client_id, account_id=account_id,
                redirect_uri=redirect_uri, scope=scope, code_challenge=challenge,
                code_challenge_method=method, expires_at=now() + ttl, grant_id=grant_id))

    def code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Load an unexpired code issued to CLIENT_ID."""
        row = self._one(sa.select(t.auth_codes).where(
            t.auth_codes.c.code_hash == digest(code), t.auth_codes.c.client_id == client_id,
            t.auth_codes.c.expires_at >= now()))
        return AuthorizationCode(**row) if row else None

    def delete_code(self, code_hash: str) -> bool:
        """Delete a code; False when another request already used it."""
        with transaction(self.engine) as conn:
            return conn.execute(sa.delete(t.auth_codes)
                                .where(t.auth_codes.c.code_hash == code_hash)).rowcount == 1

    # tokens ----------------------------------------------------------------------------
    def save_token(self, **values) -> bool:
        """Record an issued token; False, and nothing stored, when its caregiver grant has
        ended or was stopped since the grant was checked (the token must not be handed out)."""
        with transaction(self.engine) as conn:
            if values.get("grant_id") and not self._grant_in_force(conn, values["grant_id"]):
                return False
            conn.execute(sa.insert(t.tokens).values(**values))
        return True

    @staticmethod
    def _grant_in_force(conn, grant_id: str) -> bool:
        """Is the grant in force, read under its row lock? revoke_grant updates that row, so it
        either commits first (and this token is refused) or waits for this transaction (and
        then finds the token and revokes it): no token of a stopped grant outlives the stop."""
        c = t.proxy_grants.c
        row = conn.execute(sa.select(c.revoked_at, c.ends_at).where(c.id == grant_id)
                           .with_for_update()).first()
        return row is not None and row.revoked_at is None and row.ends_at > now()

    def token_by_jti(self, jti: str) -> TokenRecord | None:
        row = self._one(sa.select(t.tokens).where(t.tokens.c.jti == jti))
        return TokenRecord(**row) if row else None

    def token_by_refresh(self, refresh_token: str) -> TokenRecord | None:
        row = self._one(sa.select(t.tokens).where(t.tokens.c.refresh_hash == digest(refresh_token)))
        return TokenRecord(**row) if row else None

    def revoke(self, jtis: list[str], refresh: bool) -> None:
        """Revoke the access tokens JTIS (and their refresh tokens when REFRESH)."""
        with transaction(self.engine) as conn:
            self._revoke(conn, sa.select(t.tokens).where(t.tokens.c.jti.in_(jtis)), refresh)

    def revoke_family(self, family: str) -> None:
        """Revoke every token of one login (refresh token reuse, RFC 9700 section 4.14.2)."""
        with transaction(self.engine) as conn:
            self._revoke(conn, sa.select(t.tokens).where(t.tokens.c.family == family), True)

    def retire_refresh(self, jti: str) -> bool:
        """Mark a rotated refresh token used; False when it was already used."""
        with transaction(self.engine) as conn:
            return conn.execute(sa.update(t.tokens).where(
                t.tokens.c.jti == jti, t.tokens.c.refresh_revoked == sa.false()
            ).values(refresh_revoked=True)).rowcount == 1

    @staticmethod
    def _revoke(conn, query, refresh: bool) -> None:
        rows = conn.execute(query).mappings().all()
        values = {"access_revoked": True}
        if refresh:
            values["refresh_revoked"] = True
        for row in rows:
            conn.execute(sa.update(t.tokens).where(t.tokens.c.jti == row["jti"]).values(**values))
            if not row["access_revoked"] and row["expires_at"] >= now():
                conn.execute(sa.insert(t.revoked_jtis).values(jti=row["jti"],
                                                              expires_at=row["expires_at"]))

    def revoked_since(self, last_id: int) -> list[tuple[int, str, int]]:
        """Return (id, jti, expires_at) of revocations newer than LAST_ID that still matter."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.revoked_jtis.c.id, t.revoked_jtis.c.jti,
                                          t.revoked_jtis.c.expires_at)
                                .where(t.revoked_jtis.c.id > last_id)
                                .order_by(t.revoked_jtis.c.id)).all()
        return [tuple(r) for r in rows]

    # client assertions (RFC 7523 section 3, item 7) -------------------------------------
    def remember_assertion(self, key: str, expires_at: int) -> bool:
        """Record a client assertion's jti; False when it was seen before."""
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.assertion_jtis).where(t.assertion_jtis.c.expires_at < now()))
            seen = conn.execute(sa.select(t.assertion_jtis.c.key)
                                .where(t.assertion_jtis.c.key == key)).first()
            if seen:
                return False
            conn.execute(sa.insert(t.assertion_jtis).values(key=key, expires_at=expires_at))
            return True

    # accounts ----------------------------------------------------------------------------
    def account(self, *, username: str | None = None, account_id: str | None = None,
                patient: str | None = None) -> Account | None:
        c = t.accounts.c
        cond = (c.username == username if username is not None
                else c.id == account_id if account_id is not None else c.patient == patient)
        row = self._one(sa.select(t.accounts).where(cond))
        return Account(**row) if row else None

    # sign-in throttle (gateway/throttle.py) ----------------------------------------------
    def claim_signin(self, key: str, at: float, policy: SignInPolicy) -> float:
        """Claim a password check for KEY; return 0 when it may go ahead, else the seconds left.

        A check that goes ahead holds the next one back by the current delay, so tries sent
        together once a wait ends get one check between them, not one each. A refused try
        changes nothing: it never lengthens the wait.
        """
        c = t.signin_delays.c
        with transaction(self.engine) as conn:
            row = conn.execute(sa.select(t.signin_delays).where(c.key == key)
                               .with_for_update()).mappings().first()
            if row is None or at - row["last_failure_at"] > policy.forget_seconds:
                return 0.0
            if row["wait_until"] > at:
                return row["wait_until"] - at
            delay = policy.delay(row["failures"])
            if delay:
                conn.execute(sa.update(t.signin_delays).where(c.key == key)
                             .values(wait_until=at + delay))
            return 0.0

    def signin_failures(self, key: str, at: float, policy: SignInPolicy) -> int:
        """KEY's wrong tries in a row (0 once forgotten)."""
        row = self._one(sa.select(t.signin_delays).where(t.signin_delays.c.key == key))
        if row is None or at - row["last_failure_at"] > policy.forget_seconds:
            return 0
        return row["failures"]

    def signin_failed(self, key: str, at: float, policy: SignInPolicy) -> None:
        """Count a wrong try for KEY and set its next wait; forget long-quiet keys."""
        c = t.signin_delays.c
        query = sa.select(c.failures).where(c.key == key).with_for_update()
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.signin_delays)
                         .where(c.last_failure_at < at - policy.forget_seconds))
            row = conn.execute(query).first()
            if row is None:
                first = {"failures": 1, "last_failure_at": at, "wait_until": at + policy.delay(1)}
                if _inserted(conn, t.signin_delays, key=key, **first):
                    return
                # A concurrent first failure inserted the row (PostgreSQL): count on top of it.
                row = conn.execute(query).first()
            failures = row.failures + 1
            conn.execute(sa.update(t.signin_delays).where(c.key == key).values(
                failures=failures, last_failure_at=at, wait_until=at + policy.delay(failures)))

    def signin_succeeded(self, key: str) -> None:
        """Clear KEY's count after a right password."""
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.signin_delays).where(t.signin_delays.c.key == key))

    def take_signin_check(self, key: str, at: float, policy: SignInPolicy) -> float:
        """Spend one password check of KEY's budget; return 0, else the seconds until one is left."""
        c = t.signin_budgets.c
        full_after = policy.check_burst / max(policy.checks_per_minute / 60.0, 1e-9)
        query = sa.select(t.signin_budgets).where(c.key == key).with_for_update()
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.signin_budgets).where(c.at < at - full_after))
            row = conn.execute(query).mappings().first()
            if row is None:
                if _inserted(conn, t.signin_budgets, key=key,
                             tokens=policy.check_burst - 1.0, at=at):
                    return 0.0
                # A concurrent first try inserted the row (PostgreSQL): spend from it.
                row = conn.execute(query).mappings().first()
            tokens = policy.refill(row["tokens"], row["at"], at)
            if tokens < 1.0:
                return policy.budget_wait(tokens)
            conn.execute(sa.update(t.signin_budgets).where(c.key == key)
                         .values(tokens=tokens - 1.0, at=max(at, row["at"])))
            return 0.0

    # login tickets (between the password and the approval page) --------------------------
    def save_ticket(self, ticket: str, account_id: str, request_hash: str, ttl: int = 600) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.delete(t.login_tickets).where(t.login_tickets.c.expires_at < now()))
            conn.execute(sa.insert(t.login_tickets).values(
                ticket_hash=digest(ticket), account_id=account_id, request_hash=request_hash,
                expires_at=now() + ttl))

    def take_ticket(self, ticket: str, request_hash: str) -> str | None:
        """Consume a ticket issued for the same authorization request; return its account id."""
        c = t.login_tickets.c
        with transaction(self.engine) as conn:
            row = conn.execute(sa.select(t.login_tickets).where(
                c.ticket_hash == digest(ticket), c.expires_at >= now())).mappings().first()
            if row is None or row["request_hash"] != request_hash:
                return None
            conn.execute(sa.delete(t.login_tickets).where(c.ticket_hash == row["ticket_hash"]))
            return row["account_id"]

    # activation codes (DESIGN section 3) -------------------------------------------------
    def save_activation_code(self, code: str, patient: str, birth_date: str,
                             language: str | None, department: str, ttl: int) -> int:
        """Store a new code for PATIENT and retire the older unused ones; return its expiry."""
        c = t.activation_codes.c
        issued = now()
        with transaction(self.engine) as conn:
            conn.execute(sa.update(t.activation_codes)
                         .where(c.patient == patient, c.used_at.is_(None), c.expires_at > issued)
                         .values(expires_at=issued))
            conn.execute(sa.insert(t.activation_codes).values(
                code_hash=digest(code), patient=patient, birth_date=birth_date,
                language=language, department=department, created_at=issued,
                expires_at=issued + ttl, used_at=None, failed_attempts=0))
            events.code_issued(conn, self.checker, patient, department, issued, issued + ttl)
        return issued + ttl

    def activation_code(self, code: str):
        return self._one(sa.select(t.activation_codes)
                         .where(t.activation_codes.c.code_hash == digest(code)))

    def count_failed_activation(self, code_id: int) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.update(t.activation_codes).where(t.activation_codes.c.id == code_id)
                         .values(failed_attempts=t.activation_codes.c.failed_attempts + 1))

    def open_account(self, code_id: int, account_id: str, username: str, password_hash: str,
                     patient: str, language: str | None, birth_date: str | None = None) -> str | None:
        """Use the code and create the account together; return None or why it failed."""
        c = t.activation_codes.c
        with transaction(self.engine) as conn:
            if conn.execute(sa.select(t.accounts.c.id)
                            .where(t.accounts.c.username == username)).first():
                return "username"
            if conn.execute(sa.select(t.accounts.c.id)
                            .where(t.accounts.c.patient == patient)).first():
                return "patient"
            used = conn.execute(sa.update(t.activation_codes)
                                .where(c.id == code_id, c.used_at.is_(None))
                                .values(used_at=now())).rowcount
            if used != 1:
                return "used"
            conn.execute(sa.insert(t.accounts).values(
                id=account_id, username=username, password_hash=password_hash, patient=patient,
                language=language, failed_logins=0, locked_until=0, created_at=now(),
                kind="patient", birth_date=birth_date))
            events.activated(conn, self.checker, patient, now())
        return None

    # caregiver (proxy) grants, gateway/proxies.py ------------------------------------------
    def create_grant(self, **values) -> dict:
        """Store a grant and its "granted" event together; return the grant."""
        with transaction(self.engine) as conn:
            conn.execute(sa.insert(t.proxy_grants).values(**values))
            self._event(conn, values["id"], values["patient"], "granted", "patient",
                        values["patient_account_id"])
        return dict(values)

    def grant(self, grant_id: str):
        return self._one(sa.select(t.proxy_grants).where(t.proxy_grants.c.id == grant_id))

    def grant_by_invite(self, code: str):
        return self._one(sa.select(t.proxy_grants)
                         .where(t.proxy_grants.c.invite_hash == digest(code)))

    def grants_of(self, patient: str) -> list:
        """The patient's grants, newest first."""
        c = t.proxy_grants.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.proxy_grants).where(c.patient == patient)
                                .order_by(c.created_at.desc(), c.id)).mappings().all()

    def active_grants(self, caregiver_account_id: str, at: int) -> list:
        """The caregiver's grants in force at AT, in the order they joined them."""
        c, e = t.proxy_grants.c, t.proxy_events.c
        joined = sa.and_(e.grant_id == c.id, e.action == "joined")
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.proxy_grants).join(t.proxy_events, joined).where(
                c.caregiver_account_id == caregiver_account_id, c.revoked_at.is_(None),
                c.ends_at > at).order_by(e.id)).mappings().all()

    def count_failed_invite(self, grant_id: str) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.update(t.proxy_grants).where(t.proxy_grants.c.id == grant_id)
                         .values(failed_attempts=t.proxy_grants.c.failed_attempts + 1))

    def join_grant(self, grant_id: str, account_id: str | None, new: dict | None) -> str | None:
        """Link the grant to the caregiver's account (opening it when NEW); None if too late."""
        try:
            return self._join_grant(grant_id, account_id, new)
        except _TooLate:  # raised inside the transaction, so the new account is rolled back
            return None

    def _join_grant(self, grant_id: str, account_id: str | None, new: dict | None) -> str:
        c = t.proxy_grants.c
        with transaction(self.engine) as conn:
            if new is not None:
                if conn.execute(sa.select(t.accounts.c.id)
                                .where(t.accounts.c.username == new["username"])).first():
                    raise _TooLate()
                conn.execute(sa.insert(t.accounts).values(
                    **new, patient=None, kind="caregiver", birth_date=None, failed_logins=0,
                    locked_until=0, created_at=now()))
                account_id = new["id"]
            joined = conn.execute(sa.update(t.proxy_grants).where(
                c.id == grant_id, c.caregiver_account_id.is_(None), c.revoked_at.is_(None)
            ).values(caregiver_account_id=account_id, activated_at=now())).rowcount
            if joined != 1:
                raise _TooLate()
            row = conn.execute(sa.select(c.patient, c.relationship, c.activated_at, c.ends_at)
                               .where(c.id == grant_id)).first()
            self._event(conn, grant_id, row[0], "joined", "caregiver", account_id)
            events.proxy_activated(conn, self.checker, row.patient, grant_id, row.relationship,
                                   row.activated_at, row.ends_at)
        return account_id

    def revoke_grant(self, grant_id: str, patient: str, actor: str):
        """End PATIENT's grant and its tokens at once; return it (None if not theirs)."""
        c = t.proxy_grants.c
        with transaction(self.engine) as conn:
            row = conn.execute(sa.select(t.proxy_grants).where(
                c.id == grant_id, c.patient == patient)).mappings().first()
            if row is None:
                return None
            if row["revoked_at"] is None:
                ended = now()
                conn.execute(sa.update(t.proxy_grants).where(c.id == grant_id)
                             .values(revoked_at=ended))
                self._event(conn, grant_id, patient, "revoked", "patient", actor)
                if row["caregiver_account_id"]:  # an invite nobody joined never managed anything
                    events.proxy_ended(conn, self.checker, patient, grant_id, ended)
            self._revoke(conn, sa.select(t.tokens).where(t.tokens.c.grant_id == grant_id), True)
            return conn.execute(sa.select(t.proxy_grants).where(c.id == grant_id)).mappings().first()

    def record_proxy_event(self, grant_id: str, patient: str, action: str, actor_kind: str,
                           actor: str) -> None:
        with transaction(self.engine) as conn:
            self._event(conn, grant_id, patient, action, actor_kind, actor)

    @staticmethod
    def _event(conn, grant_id: str, patient: str, action: str, actor_kind: str, actor: str) -> None:
        conn.execute(sa.insert(t.proxy_events).values(grant_id=grant_id, patient=patient,
                                                      action=action, actor_kind=actor_kind,
                                                      actor=actor, at=now()))
