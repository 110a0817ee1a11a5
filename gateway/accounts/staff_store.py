"""The store of department staff: accounts, their recovery codes, the invites that open them and
the audit trail (gateway/accounts/staff.py says the rules).

Every change is one transaction with its audit row and, when the other services hear of it,
its event (events.py). Which departments are active is the directory's to say, so each call
that needs it takes DEPARTMENT_ACTIVE(department_id) -> bool from the caller; the accounts know
nothing of the directory. Disabling an account or changing its roles ends its tokens in the
same transaction: REVOKE_TOKENS(conn, staff_account_id) is the authorization server's, handed
in by the wiring, as GrantStore's is (stores.py).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from gateway import schema as t
from gateway import storage
from gateway.accounts import events
from gateway.accounts.codes import new_code, normalise_code
from gateway.accounts.models import StaffAccount
from gateway.accounts.staff import (ACTIVE, DISABLED, PENDING, PHR_ADMIN, StaffError,
                                    check_credentials, check_disable, check_invite, check_manager,
                                    check_may_sign_in, check_role_change, display_name_of,
                                    enrolment_uri, invite_expires, looks_like_totp,
                                    new_recovery_codes, new_totp_secret, practitioner_of, roles_of,
                                    roles_text, totp_step)
from gateway.accounts.stores import username_taken
from gateway.storage import TableStore
from services.common.db import transaction

DepartmentActive = Callable[[str], bool]
#: The announcement of every active member of staff's roles (announce_roles_once).
STAFF_ROLES = "staff-roles"


@dataclass(frozen=True)
class Enrolment:
    """A pending account and what its person's authenticator app needs (shown once, with a QR
    code of ``uri``). The secret stays readable in the account row: every check needs it."""

    account: StaffAccount
    secret: str
    uri: str


@dataclass(frozen=True)
class SecondFactor:
    """A second factor accepted: by TOTP, or by a recovery code with ``recovery_codes_left``."""

    account: StaffAccount
    method: str  # "totp" | "recovery-code"
    recovery_codes_left: int | None = None


def _account(row) -> StaffAccount:
    return StaffAccount(**{**row, "roles": roles_of(row["roles"])})


class StaffStore(TableStore):
    """Department staff: invites, accounts, their second factors and what happened to them."""

    def __init__(self, engine: Engine, revoke_tokens: Callable[[sa.Connection, str], None],
                 checker=None, hasher: PasswordHasher | None = None):
        super().__init__(engine, checker)
        self.revoke_tokens = revoke_tokens
        self.hasher = hasher or PasswordHasher()  # Argon2, as the portal accounts' (activation.py)

    # -- reads -------------------------------------------------------------------------------------
    def account(self, *, account_id: str | None = None, username: str | None = None) -> StaffAccount | None:
        c = t.staff_accounts.c
        row = self._one(sa.select(t.staff_accounts).where(
            c.id == account_id if account_id is not None else c.username == username))
        return _account(row) if row else None

    def staff_of(self, department: str) -> list[StaffAccount]:
        """DEPARTMENT's staff, in the order they joined."""
        c = t.staff_accounts.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.staff_accounts).where(c.department == department)
                                .order_by(c.created_at, c.id)).mappings().all()
        return [_account(row) for row in rows]

    def invite(self, code: str):
        """The invite a typed CODE names, or None."""
        return self._one(sa.select(t.staff_invites)
                         .where(t.staff_invites.c.code_hash == storage.digest(normalise_code(code))))

    def recovery_codes_left(self, account_id: str) -> int:
        c = t.staff_recovery_codes.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t.staff_recovery_codes)
                                .where(c.account_id == account_id, c.used_at.is_(None))).scalar_one()

    def audit_trail(self, department: str, limit: int = 100) -> list[dict]:
        """DEPARTMENT's audit rows, newest first."""
        c = t.staff_audit.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.staff_audit).where(c.department == department)
                                .order_by(c.id.desc()).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    # -- invites -----------------------------------------------------------------------------------
    def create_invite(self, by: str, department: str, roles, display_name: str,
                      department_active: DepartmentActive,
                      practitioner: str | None = None) -> tuple[dict, str]:
        """BY (PHR_ADMIN or an admin of DEPARTMENT) invites a person; return the invite and its
        code (the only time the code is readable)."""
        roles = roles_of(roles)
        name, practitioner = display_name_of(display_name), practitioner_of(practitioner)
        if not department_active(department):
            raise StaffError("department-disabled")
        code, at = new_code(), storage.now()
        invite = dict(id=str(uuid.uuid4()), code_hash=storage.digest(normalise_code(code)),
                      department=department, roles=roles_text(roles), display_name=name,
                      practitioner=practitioner, created_by=by, created_at=at,
                      expires_at=invite_expires(at), used_at=None, account_id=None)
        with transaction(self.engine) as conn:
            self._check_manager(conn, by, department, department_active)
            conn.execute(sa.insert(t.staff_invites).values(**invite))
            self._audit(conn, department, by, "invited", invite["id"], invite["roles"])
            events.staff_invited(conn, self.checker, department, invite["id"], roles, by, at,
                                 invite["expires_at"])
        invite.pop("code_hash")
        return invite, code

    def redeem_invite(self, code: str, username: str, password: str,
                      department_active: DepartmentActive,
                      display_name: str | None = None) -> Enrolment:
        """Open a pending account with an invite CODE: the username and password the person
        chose, their display name (else the invite's) and a fresh TOTP secret."""
        username = username.strip() if isinstance(username, str) else username
        check_credentials(username, password)
        name = display_name_of(display_name) if display_name is not None else None
        invite, at = self.invite(code) if isinstance(code, str) else None, storage.now()
        check_invite(invite, at)
        if not department_active(invite["department"]):
            raise StaffError("department-disabled")
        account_id, secret = str(uuid.uuid4()), new_totp_secret()
        row = dict(id=account_id, department=invite["department"], username=username,
                   password_hash=self.hasher.hash(password),
                   display_name=name or invite["display_name"], roles=invite["roles"],
                   practitioner=invite["practitioner"] or account_id, status=PENDING,
                   totp_secret=secret, totp_last_step=None, invite_id=invite["id"],
                   created_at=at, activated_at=None, disabled_at=None)
        c = t.staff_invites.c
        try:
            with transaction(self.engine) as conn:
                if username_taken(conn, username):
                    raise StaffError("username-taken")
                used = conn.execute(sa.update(t.staff_invites).where(
                    c.id == invite["id"], c.used_at.is_(None), c.expires_at > at
                ).values(used_at=at, account_id=account_id)).rowcount
                if used != 1:
                    raise StaffError("invite-used")
                conn.execute(sa.insert(t.staff_accounts).values(**row))
                self._audit(conn, invite["department"], account_id, "invite-redeemed", invite["id"])
        except IntegrityError:  # a concurrent redemption took the username first
            raise StaffError("username-taken") from None
        account = _account(row)
        return Enrolment(account, secret, enrolment_uri(secret, username))

    # -- the second factor ---------------------------------------------------------------------------
    def confirm_enrolment(self, account_id: str, code: str,
                          department_active: DepartmentActive) -> list[str]:
        """Activate a pending account with its first valid TOTP CODE; return its recovery codes
        (the only time they are readable)."""
        account = self._existing(account_id)
        if account.status == DISABLED:
            raise StaffError("disabled")
        if account.status != PENDING:
            raise StaffError("not-pending")
        if not department_active(account.department):
            raise StaffError("department-disabled")
        at = storage.now()
        step = totp_step(account.totp_secret, code, at, account.totp_last_step)
        codes = new_recovery_codes()
        c = t.staff_accounts.c
        with transaction(self.engine) as conn:
            done = conn.execute(sa.update(t.staff_accounts).where(
                c.id == account.id, c.status == PENDING
            ).values(status=ACTIVE, activated_at=at, totp_last_step=step)).rowcount
            if done != 1:
                raise StaffError("not-pending")
            conn.execute(sa.insert(t.staff_recovery_codes), [
                dict(account_id=account.id, code_hash=storage.digest(normalise_code(one)),
                     created_at=at, used_at=None) for one in codes])
            self._audit(conn, account.department, account.id, "activated")
            events.staff_activated(conn, self.checker, account.department, account.id,
                                   account.practitioner, account.roles, account.invite_id, at)
        return codes

    def use_second_factor(self, account_id: str, code: str,
                          department_active: DepartmentActive) -> SecondFactor:
        """Accept CODE as ACCOUNT_ID's second factor: a TOTP code of a step after the last one
        accepted, or a recovery code not used before (each is spent here, once)."""
        account = self._existing(account_id)
        check_may_sign_in(account, department_active(account.department))
        at = storage.now()
        if looks_like_totp(code):
            step = totp_step(account.totp_secret, code, at, account.totp_last_step)
            c = t.staff_accounts.c
            with transaction(self.engine) as conn:
                # Only a later step than the one stored: two tries with one code, sent together,
                # cannot both pass.
                fresh = conn.execute(sa.update(t.staff_accounts).where(
                    c.id == account.id,
                    sa.or_(c.totp_last_step.is_(None), c.totp_last_step < step)
                ).values(totp_last_step=step)).rowcount
                if fresh != 1:
                    raise StaffError("replayed")
                self._audit(conn, account.department, account.id, "signed-in", detail="totp")
            return SecondFactor(account, "totp")
        r = t.staff_recovery_codes.c
        digest = storage.digest(normalise_code(code)) if isinstance(code, str) else ""
        with transaction(self.engine) as conn:
            used = conn.execute(sa.update(t.staff_recovery_codes).where(
                r.account_id == account.id, r.code_hash == digest, r.used_at.is_(None)
            ).values(used_at=at)).rowcount
            if used != 1:
                raise StaffError("wrong-code")
            self._audit(conn, account.department, account.id, "signed-in", detail="recovery-code")
        return SecondFactor(account, "recovery-code", self.recovery_codes_left(account.id))

    # -- an admin's changes ----------------------------------------------------------------------------
    def change_roles(self, account_id: str, roles, by: str,
                     department_active: DepartmentActive) -> StaffAccount:
        """BY gives ACCOUNT_ID these ROLES (at least one); its tokens end, as they carry the old ones."""
        roles = roles_of(roles)
        at = storage.now()
        with transaction(self.engine) as conn:
            target = self._locked(conn, account_id)
            actor = self._check_manager(conn, by, target.department, department_active)
            check_role_change(actor, target, roles)
            if roles == target.roles:
                return target
            conn.execute(sa.update(t.staff_accounts).where(t.staff_accounts.c.id == target.id)
                         .values(roles=roles_text(roles)))
            self._audit(conn, target.department, by, "roles-changed", target.id, roles_text(roles))
            events.staff_roles_changed(conn, self.checker, target.department, target.id, roles,
                                       target.roles, by, at)
            self.revoke_tokens(conn, target.id)
        return self._existing(account_id)

    def announce_roles(self) -> int:
        """Queue phr.accounts.staff-activated again, as it was (roles as they are now), for every
        active member of staff; return how many. A consumer that started after their activation
        (the exchange's staff list and roles, its migration 0009) learns who is active with which
        role, and one that already knew them changes nothing. No token ends, as nothing changed."""
        with transaction(self.engine) as conn:
            return self._announce(conn)

    def announce_roles_once(self) -> int | None:
        """announce_roles the first time it is asked in this database (gateway migration 0021),
        in the same transaction as the row that says so; None when it was done before (by this
        worker's last start or by another worker starting at the same time)."""
        try:
            with transaction(self.engine) as conn:
                conn.execute(sa.insert(t.announcements).values(name=STAFF_ROLES, at=storage.now()))
                return self._announce(conn)
        except IntegrityError:
            return None

    def _announce(self, conn: sa.Connection) -> int:
        c = t.staff_accounts.c
        rows = conn.execute(sa.select(t.staff_accounts).where(c.status == ACTIVE)
                            .order_by(c.created_at, c.id)).mappings().all()
        for account in map(_account, rows):  # every account is opened with an invite
            events.staff_activated(conn, self.checker, account.department, account.id,
                                   account.practitioner, account.roles, account.invite_id,
                                   account.activated_at)
        return len(rows)

    def disable(self, account_id: str, by: str, department_active: DepartmentActive) -> StaffAccount:
        """BY disables ACCOUNT_ID: no sign-in from now on, and its tokens end (again is harmless)."""
        at = storage.now()
        with transaction(self.engine) as conn:
            target = self._locked(conn, account_id)
            actor = self._check_manager(conn, by, target.department, department_active)
            check_disable(actor, target)
            if target.status != DISABLED:
                conn.execute(sa.update(t.staff_accounts).where(t.staff_accounts.c.id == target.id)
                             .values(status=DISABLED, disabled_at=at))
                self._audit(conn, target.department, by, "disabled", target.id)
                events.staff_disabled(conn, self.checker, target.department, target.id, by, at)
            self.revoke_tokens(conn, target.id)
        return self._existing(account_id)

    def record(self, department: str, actor: str, action: str, subject: str | None = None,
               detail: str | None = None) -> None:
        """Audit what ACTOR (a staff account id or PHR_ADMIN) did for DEPARTMENT."""
        with transaction(self.engine) as conn:
            self._audit(conn, department, actor, action, subject, detail)

    # -- helpers -------------------------------------------------------------------------------------
    def _existing(self, account_id: str) -> StaffAccount:
        account = self.account(account_id=account_id) if isinstance(account_id, str) else None
        if account is None:
            raise StaffError("not-found")
        return account

    @staticmethod
    def _locked(conn, account_id: str) -> StaffAccount:
        row = conn.execute(sa.select(t.staff_accounts).where(t.staff_accounts.c.id == account_id)
                           .with_for_update()).mappings().first() if isinstance(account_id, str) else None
        if row is None:
            raise StaffError("not-found")
        return _account(row)

    @staticmethod
    def _check_manager(conn, by: str, department: str,
                       department_active: DepartmentActive) -> StaffAccount | str:
        """The actor BY, read in this transaction, once allowed to manage DEPARTMENT's staff."""
        actor: StaffAccount | str | None = PHR_ADMIN if by == PHR_ADMIN else None
        if actor is None and isinstance(by, str):
            row = conn.execute(sa.select(t.staff_accounts)
                               .where(t.staff_accounts.c.id == by)).mappings().first()
            actor = _account(row) if row else None
        check_manager(actor, department, department_active(department))
        return actor

    @staticmethod
    def _audit(conn, department: str, actor: str, action: str, subject: str | None = None,
               detail: str | None = None) -> None:
        conn.execute(sa.insert(t.staff_audit).values(at=storage.now(), department=department,
                                                     actor=actor, action=action, subject=subject,
                                                     detail=detail))

