"""Department staff: the people who sign in for a department, and the rules of their accounts.

Pure rules, no database: the store is staff_store.py, the sign-in checks are staff_signin.py.

1. The department's admin (or the platform's administrators' client, ``phr-admin``) creates an
   *invite*: the roles (contracts.vocabulary.STAFF_ROLES, at least one), a display name and,
   when the person has one already, their Practitioner id. The invite code is shown once and
   stored hashed; it works once, for INVITE_DAYS days.
2. The person redeems it with a username and a password (the same rules as patients',
   credentials.py) and gets a *pending* account with a fresh TOTP secret (RFC 6238), shown as
   an ``otpauth://`` URI (text and QR code) for their authenticator app.
3. They confirm it with a first valid code: the account becomes *active* and they get
   RECOVERY_CODES one-time recovery codes, shown once and stored hashed.
4. Signing in takes the password (under the sign-in throttle, as patients', throttle.py) and
   then a second factor: a TOTP code of the current time step or the one on either side of it,
   never of a step already accepted (RFC 6238 section 5.2), or an unused recovery code.
   Neither a disabled account nor an account of a disabled department signs in; which
   departments are active is the directory's to say, so the caller passes it in.
5. The admin changes a person's roles or disables the account; every change is audited with
   who made it.
"""
from __future__ import annotations

import re
from typing import Iterable

import pyotp
import segno
from pyotp.utils import strings_equal

from contracts.http import FHIR_ID_RE
from contracts.vocabulary import STAFF_ROLES
from gateway.accounts.codes import new_code
from gateway.accounts.credentials import password_ok, username_ok
from gateway.accounts.models import StaffAccount

INVITE_DAYS = 7
RECOVERY_CODES = 10
ISSUER = "PHR"  # what the authenticator app shows beside the username
TOTP_WINDOW = 1  # steps either side of now: a clock off by up to 30 s, or a code typed late
TOTP_DIGITS = 6
MAX_DISPLAY_NAME = 80
#: Who may manage every department's staff: the platform administrators' client
#: (gateway/admin/clients.py ensure_admin_client). Its invites and changes are audited as it.
PHR_ADMIN = "phr-admin"
ADMIN = "admin"
PENDING, ACTIVE, DISABLED = "pending", "active", "disabled"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class StaffError(Exception):
    """A rule refused the request; ``reason`` says which (the pages and API explain it).

    Reasons: ``no-roles``, ``unknown-role``, ``display-name``, ``practitioner``, ``username``
    (not a valid username), ``password`` (too short or long), ``username-taken``,
    ``invite-unknown``, ``invite-used``, ``invite-expired``, ``not-found``, ``not-pending``
    (enrolment confirmed already), ``wrong-code``, ``replayed`` (a TOTP code of a step already
    accepted), ``pending``, ``disabled``, ``department-disabled``, ``forbidden`` (the actor may
    not manage that department's staff), ``self`` (an admin may not disable themselves or drop
    their own admin role).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- what an invite and an account hold -------------------------------------------------------------
def roles_of(roles: Iterable[str] | str) -> tuple[str, ...]:
    """ROLES checked, without repeats, in the order of STAFF_ROLES; at least one."""
    codes = roles.split() if isinstance(roles, str) else list(roles)
    if not codes:
        raise StaffError("no-roles")
    if any(not isinstance(code, str) or code not in STAFF_ROLES for code in codes):
        raise StaffError("unknown-role")
    return tuple(role for role in STAFF_ROLES if role in codes)


def roles_text(roles: Iterable[str]) -> str:
    """Roles as a table keeps them: space-separated."""
    return " ".join(roles)


def display_name_of(name: str) -> str:
    """NAME as shown to others: trimmed, 1 to MAX_DISPLAY_NAME characters, no control characters."""
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= MAX_DISPLAY_NAME or _CONTROL.search(name):
        raise StaffError("display-name")
    return name


def practitioner_of(practitioner: str | None) -> str | None:
    """A Practitioner's FHIR id, or None when the invite names none."""
    if practitioner is None:
        return None
    if not isinstance(practitioner, str) or not FHIR_ID_RE.fullmatch(practitioner):
        raise StaffError("practitioner")
    return practitioner


def check_credentials(username: str, password: str) -> None:
    """A new account's username and password follow the rules patients' do."""
    if not isinstance(username, str) or not username_ok(username):
        raise StaffError("username")
    if not isinstance(password, str) or not password_ok(password):
        raise StaffError("password")


# -- invites ----------------------------------------------------------------------------------------
def invite_expires(at: int) -> int:
    return at + INVITE_DAYS * 86400


def check_invite(invite, at: int) -> None:
    """An invite row may be redeemed at AT: not used, not expired."""
    if invite is None:
        raise StaffError("invite-unknown")
    if invite["used_at"] is not None:
        raise StaffError("invite-used")
    if invite["expires_at"] <= at:
        raise StaffError("invite-expired")


# -- the second factor ------------------------------------------------------------------------------
def new_totp_secret() -> str:
    """A fresh TOTP secret: 32 base32 characters, 160 bits (RFC 4226 section 4 asks for 128 at least)."""
    return pyotp.random_base32()


def enrolment_uri(secret: str, username: str) -> str:
    """The ``otpauth://totp/PHR:<username>?secret=...&issuer=PHR`` URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def enrolment_qr(uri: str, title: str) -> str:
    """URI as a QR code an authenticator app's camera reads: inline SVG markup (the login pages'
    CSP loads no image), announced as one image named TITLE. segno writes the code (ISO/IEC 18004)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, title=title, svgclass="qr")
    return svg.replace("<svg ", '<svg role="img" focusable="false" ', 1)


def looks_like_totp(code: str) -> bool:
    """Whether CODE (spaces allowed) is shaped like a TOTP code rather than a recovery code."""
    return isinstance(code, str) and re.fullmatch(r"\d{%d}" % TOTP_DIGITS, re.sub(r"\s", "", code)) is not None


def totp_step(secret: str, code: str, at: float, last_step: int | None) -> int:
    """The time step CODE is accepted for at AT, given the last step accepted; else StaffError.

    pyotp checks the code against the steps within TOTP_WINDOW of now; the step it matched must
    come after LAST_STEP, so a code once accepted (or an older one) is refused (``replayed``).
    """
    if not looks_like_totp(code):
        raise StaffError("wrong-code")
    code = re.sub(r"\s", "", code)
    totp = pyotp.TOTP(secret)
    if not totp.verify(code, for_time=at, valid_window=TOTP_WINDOW):
        raise StaffError("wrong-code")
    now = totp.timecode(at)  # Unix seconds: pyotp reads them as UTC
    matched = [step for step in range(now - TOTP_WINDOW, now + TOTP_WINDOW + 1)
               if strings_equal(code, totp.generate_otp(step))]
    fresh = [step for step in matched if last_step is None or step > last_step]
    if not fresh:
        raise StaffError("replayed")
    return max(fresh)


def new_recovery_codes() -> list[str]:
    """RECOVERY_CODES one-time codes, each like ABCD-EFGH-JKMN (codes.py: about 59 bits)."""
    return [new_code() for _ in range(RECOVERY_CODES)]


# -- who may sign in, who may manage whom ---------------------------------------------------------------
def check_may_sign_in(account: StaffAccount, department_active: bool) -> None:
    """ACCOUNT may sign in: active, in an active department."""
    if account.status == DISABLED:
        raise StaffError("disabled")
    if not department_active:
        raise StaffError("department-disabled")
    if account.status != ACTIVE:
        raise StaffError("pending")


def check_manager(actor: StaffAccount | str, department: str, department_active: bool) -> None:
    """ACTOR (PHR_ADMIN, or a member of staff) may manage DEPARTMENT's staff: PHR_ADMIN
    always; staff only as an active admin of that department while it is active."""
    if actor == PHR_ADMIN:
        return
    if not isinstance(actor, StaffAccount) or actor.department != department \
            or actor.status != ACTIVE or ADMIN not in actor.roles:
        raise StaffError("forbidden")
    if not department_active:
        raise StaffError("department-disabled")


def actor_id(actor: StaffAccount | str) -> str:
    """How the audit trail and the events name ACTOR: PHR_ADMIN or a staff account's id."""
    return actor if isinstance(actor, str) else actor.id


def check_role_change(actor: StaffAccount | str, target: StaffAccount, roles: tuple[str, ...]) -> None:
    """A disabled account keeps the roles it had; an admin keeps their own admin role (another
    admin or PHR_ADMIN takes it away)."""
    if target.status == DISABLED:
        raise StaffError("disabled")
    if isinstance(actor, StaffAccount) and actor.id == target.id and ADMIN not in roles:
        raise StaffError("self")


def check_disable(actor: StaffAccount | str, target: StaffAccount) -> None:
    """An admin does not disable their own account."""
    if isinstance(actor, StaffAccount) and actor.id == target.id:
        raise StaffError("self")
