"""Department staff signing in: the password under the sign-in throttle, as patients' (signin.py),
then the second factor under a throttle of its own (throttle.py ``second_factor_key``).

Neither step makes a session or a token: the authorization server does that once both passed
for the same person (gateway/accounts/staff.py says the rules).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.accounts.models import StaffAccount
from gateway.accounts.signin import PasswordGate
from gateway.accounts.staff import PENDING, StaffError, check_may_sign_in
from gateway.accounts.staff_store import DepartmentActive, SecondFactor, StaffStore
from gateway.accounts.throttle import second_factor_key


@dataclass(frozen=True)
class StaffChecked:
    """What a password try came to. Exactly one of these is set, or none (a wrong password):

    - ``account``: the right password of an account that may sign in; ask its second factor;
    - ``enrolling``: the right password of an account whose second factor is not confirmed
      yet; show its authenticator URI again and ask its first code (confirm_enrolment);
    - ``refused``: the right password, but the account may not sign in (``disabled``,
      ``department-disabled``): safe to say so, the person knows the password;
    - ``wait``: seconds to wait; the password was not checked.
    """

    account: StaffAccount | None = None
    enrolling: StaffAccount | None = None
    refused: str | None = None
    wait: float = 0.0


def check_staff_password(gate: PasswordGate, staff: StaffStore, username: str, password: str,
                         address: str, department_active: DepartmentActive,
                         device: str | None = None) -> StaffChecked:
    """Check a member of staff's PASSWORD for a try from ADDRESS (a device known by its nonce),
    under the same counters as every sign-in; return who must now give a second factor."""
    checked = gate.check_with(lambda name: staff.account(username=name), username, password,
                              address, device)
    if checked.wait:
        return StaffChecked(wait=checked.wait)
    account = checked.account
    if account is None:
        return StaffChecked()
    try:
        check_may_sign_in(account, department_active(account.department))
    except StaffError as refused:
        if refused.reason == PENDING:
            return StaffChecked(enrolling=account)
        staff.record(account.department, account.id, "sign-in-refused", detail=refused.reason)
        return StaffChecked(refused=refused.reason)
    return StaffChecked(account=account)


@dataclass(frozen=True)
class SecondChecked:
    """What a second-factor try came to: ``accepted``, or ``refused`` with a StaffError reason
    (``wrong-code``, ``replayed``, ``disabled``, ...), or ``wait`` seconds (not checked)."""

    accepted: SecondFactor | None = None
    refused: str | None = None
    wait: float = 0.0


def check_second_factor(gate: PasswordGate, staff: StaffStore, account_id: str, code: str,
                        department_active: DepartmentActive) -> SecondChecked:
    """Check ACCOUNT_ID's second factor (a TOTP code or a recovery code), after its password.

    Wrong codes count like wrong passwords, on the account's own counter, so six digits cannot
    be guessed at speed; a right one clears the count.
    """
    key, at = second_factor_key(account_id), time.time()
    wait = gate.counters.claim_signin(key, at, gate.policy)
    if wait:
        return SecondChecked(wait=wait)
    try:
        accepted = staff.use_second_factor(account_id, code, department_active)
    except StaffError as refused:
        if refused.reason in ("wrong-code", "replayed"):
            gate.counters.signin_failed(key, time.time(), gate.policy)
            _record_refusal(staff, account_id, refused.reason)
        return SecondChecked(refused=refused.reason)
    gate.counters.signin_succeeded(key)
    return SecondChecked(accepted=accepted)


@dataclass(frozen=True)
class Enrolled:
    """What a first code came to: the recovery codes (shown once), or ``refused``, or ``wait``."""

    recovery_codes: list[str] | None = None
    refused: str | None = None
    wait: float = 0.0


def confirm_enrolment(gate: PasswordGate, staff: StaffStore, account_id: str, code: str,
                      department_active: DepartmentActive) -> Enrolled:
    """Confirm a pending account's second factor with its first TOTP code, under the same
    counter as check_second_factor."""
    key, at = second_factor_key(account_id), time.time()
    wait = gate.counters.claim_signin(key, at, gate.policy)
    if wait:
        return Enrolled(wait=wait)
    try:
        codes = staff.confirm_enrolment(account_id, code, department_active)
    except StaffError as refused:
        if refused.reason in ("wrong-code", "replayed"):
            gate.counters.signin_failed(key, time.time(), gate.policy)
            _record_refusal(staff, account_id, refused.reason)
        return Enrolled(refused=refused.reason)
    gate.counters.signin_succeeded(key)
    return Enrolled(recovery_codes=codes)


def _record_refusal(staff: StaffStore, account_id: str, reason: str) -> None:
    account = staff.account(account_id=account_id)
    if account is not None:
        staff.record(account.department, account.id, "second-factor-refused", detail=reason)
