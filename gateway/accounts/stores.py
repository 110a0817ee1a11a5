"""The accounts' stores: portal accounts with their activation codes, caregivers' grants, and
the sign-in counters."""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway import schema as t
from gateway import storage
from gateway.accounts import events
from gateway.accounts.models import Account
from gateway.accounts.throttle import SignInPolicy
from gateway.storage import TableStore
from services.common.db import transaction


def username_taken(conn: sa.Connection, username: str) -> bool:
    """Whether USERNAME is a portal account's or a member of staff's (staff_store.py): one
    namespace, so a username names one person wherever it is typed."""
    return any(conn.execute(sa.select(table.c.id).where(table.c.username == username)).first()
               for table in (t.accounts, t.staff_accounts))


class AccountStore(TableStore):
    """Portal accounts, and the activation codes a patient opens one with."""

    def username_taken(self, username: str) -> bool:
        with self.engine.connect() as conn:
            return username_taken(conn, username)

    def account(self, *, username: str | None = None, account_id: str | None = None,
                patient: str | None = None) -> Account | None:
        c = t.accounts.c
        cond = (c.username == username if username is not None
                else c.id == account_id if account_id is not None else c.patient == patient)
        row = self._one(sa.select(t.accounts).where(cond))
        return Account(**row) if row else None

    def save_activation_code(self, code: str, patient: str, birth_date: str,
                             language: str | None, department: str, ttl: int) -> int:
        """Store a new code for PATIENT and retire the older unused ones; return its expiry."""
        c = t.activation_codes.c
        issued = storage.now()
        with transaction(self.engine) as conn:
            conn.execute(sa.update(t.activation_codes)
                         .where(c.patient == patient, c.used_at.is_(None), c.expires_at > issued)
                         .values(expires_at=issued))
            conn.execute(sa.insert(t.activation_codes).values(
                code_hash=storage.digest(code), patient=patient, birth_date=birth_date,
                language=language, department=department, created_at=issued,
                expires_at=issued + ttl, used_at=None, failed_attempts=0))
            events.code_issued(conn, self.checker, patient, department, issued, issued + ttl)
        return issued + ttl

    def activation_code(self, code: str):
        return self._one(sa.select(t.activation_codes)
                         .where(t.activation_codes.c.code_hash == storage.digest(code)))

    def count_failed_activation(self, code_id: int) -> None:
        with transaction(self.engine) as conn:
            conn.execute(sa.update(t.activation_codes).where(t.activation_codes.c.id == code_id)
                         .values(failed_attempts=t.activation_codes.c.failed_attempts + 1))

    def open_account(self, code_id: int, account_id: str, username: str, password_hash: str,
                     patient: str, language: str | None, birth_date: str | None = None) -> str | None:
        """Use the code and create the account together; return None or why it failed."""
        c = t.activation_codes.c
        with transaction(self.engine) as conn:
            if username_taken(conn, username):
                return "username"
            if conn.execute(sa.select(t.accounts.c.id)
                            .where(t.accounts.c.patient == patient)).first():
                return "patient"
            used = conn.execute(sa.update(t.activation_codes)
                                .where(c.id == code_id, c.used_at.is_(None))
                                .values(used_at=storage.now())).rowcount
            if used != 1:
                return "used"
            conn.execute(sa.insert(t.accounts).values(
                id=account_id, username=username, password_hash=password_hash, patient=patient,
                language=language, failed_logins=0, locked_until=0, created_at=storage.now(),
                kind="patient", birth_date=birth_date))
            events.activated(conn, self.checker, patient, storage.now())
        return None


class _TooLate(Exception):
    """Another request used the invite first."""


class GrantStore(TableStore):
    """A patient's grants to caregivers and what happened to each (gateway/accounts/caregivers.py).

    Stopping a grant ends its tokens in the same transaction: REVOKE_TOKENS(conn, grant_id) is
    the authorization server's (gateway.authz.stores.TokenStore.revoke_grant_tokens), handed in
    by gateway/bootstrap.py so that the accounts import nothing above them.
    """

    def __init__(self, engine: Engine, revoke_tokens: Callable[[sa.Connection, str], None],
                 checker=None):
        super().__init__(engine, checker)
        self.revoke_tokens = revoke_tokens

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
                         .where(t.proxy_grants.c.invite_hash == storage.digest(code)))

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
                if username_taken(conn, new["username"]):
                    raise _TooLate()
                conn.execute(sa.insert(t.accounts).values(
                    **new, patient=None, kind="caregiver", birth_date=None, failed_logins=0,
                    locked_until=0, created_at=storage.now()))
                account_id = new["id"]
            joined = conn.execute(sa.update(t.proxy_grants).where(
                c.id == grant_id, c.caregiver_account_id.is_(None), c.revoked_at.is_(None)
            ).values(caregiver_account_id=account_id, activated_at=storage.now())).rowcount
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
                ended = storage.now()
                conn.execute(sa.update(t.proxy_grants).where(c.id == grant_id)
                             .values(revoked_at=ended))
                self._event(conn, grant_id, patient, "revoked", "patient", actor)
                if row["caregiver_account_id"]:  # an invite nobody joined never managed anything
                    events.proxy_ended(conn, self.checker, patient, grant_id, ended, row["caregiver_account_id"])
            self.revoke_tokens(conn, grant_id)
            return conn.execute(sa.select(t.proxy_grants).where(c.id == grant_id)).mappings().first()

    def announce_expired(self, now: int | None = None) -> int:
        """Queue phr.accounts.proxy-ended (reason "expired") for each joined grant whose end has
        passed (its last day, or a minor's 18th birthday) and was not told of yet; how many.
        Tokens already stop at the end by themselves; the event is for the services that keep
        something per caregiver (the exchange's notice addresses). Each is marked by an
        "expired" row in proxy_events, in the same transaction as its event."""
        c, e = t.proxy_grants.c, t.proxy_events.c
        now = storage.now() if now is None else now
        told = sa.select(e.grant_id).where(e.action == "expired")
        with transaction(self.engine) as conn:
            rows = conn.execute(sa.select(t.proxy_grants).where(
                c.ends_at <= now, c.revoked_at.is_(None), c.caregiver_account_id.is_not(None),
                c.id.not_in(told)).with_for_update(skip_locked=True)).mappings().all()
            for row in rows:
                self._event(conn, row["id"], row["patient"], "expired", "system", "gateway")
                events.proxy_ended(conn, self.checker, row["patient"], row["id"], row["ends_at"],
                                   row["caregiver_account_id"], reason="expired")
        return len(rows)

    def record_event(self, grant_id: str, patient: str, action: str, actor_kind: str,
                     actor: str) -> None:
        """Store what happened to a grant and who did it (proxy_events)."""
        with transaction(self.engine) as conn:
            self._event(conn, grant_id, patient, action, actor_kind, actor)

    @staticmethod
    def _event(conn, grant_id: str, patient: str, action: str, actor_kind: str, actor: str) -> None:
        conn.execute(sa.insert(t.proxy_events).values(grant_id=grant_id, patient=patient,
                                                      action=action, actor_kind=actor_kind,
                                                      actor=actor, at=storage.now()))


def grant_in_force(conn, grant_id: str) -> bool:
    """Is the grant in force, read under its row lock (TokenStore.save_token asks, in the
    transaction that stores a caregiver's token)? revoke_grant updates that row, so it either
    commits first (and this token is refused) or waits for this transaction (and then finds
    the token and revokes it): no token of a stopped grant outlives the stop."""
    c = t.proxy_grants.c
    row = conn.execute(sa.select(c.revoked_at, c.ends_at).where(c.id == grant_id)
                       .with_for_update()).first()
    return row is not None and row.revoked_at is None and row.ends_at > storage.now()


class SignInStore(TableStore):
    """The sign-in throttle's counters (gateway/accounts/throttle.py): wrong tries in a row per
    username or device, and each address's budget of password checks."""

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
                if storage.inserted(conn, t.signin_delays, key=key, **first):
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
                if storage.inserted(conn, t.signin_budgets, key=key,
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
