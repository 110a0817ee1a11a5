"""Password checks under the sign-in throttle (throttle.py), for every place that takes a
password: the sign-in form (gateway/authz/authorize.py), a caregiver linking an existing
account to an invite (caregivers.py) and department staff (staff_signin.py)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.accounts.models import Account, StaffAccount
from gateway.accounts.stores import AccountStore, SignInStore
from gateway.accounts.throttle import SignInPolicy, address_key, device_key, username_key

MAX_USERNAME = 64  # contracts/schemas/accounts.py; a longer one is no account


@dataclass(frozen=True)
class Checked:
    """What a try came to: the account (right password), or the seconds to wait (not checked)."""

    account: Account | StaffAccount | None
    wait: float = 0.0


class PasswordGate:
    """Check a password only when the address's budget and the username's (or device's) delay
    allow it; count what it comes to."""

    def __init__(self, counters: SignInStore, accounts: AccountStore, policy: SignInPolicy,
                 hasher: PasswordHasher | None = None):
        self.counters, self.accounts, self.policy = counters, accounts, policy
        self.hasher = hasher or password_hasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def check(self, username: str, password: str, address: str,
              device: str | None = None) -> Checked:
        """Check a portal account's password (see check_with)."""
        return self.check_with(lambda name: self.accounts.account(username=name), username,
                               password, address, device)

    def check_with(self, lookup: Callable[[str], Any], username: str, password: str,
                   address: str, device: str | None = None) -> Checked:
        """Check USERNAME's PASSWORD for a try from ADDRESS, from a device known by its nonce;
        LOOKUP(username) finds the account (with a ``password_hash``) or None: a portal
        account's (check) or a member of staff's (staff_signin.py), under the same counters.

        The address's budget is spent first, so a try it refuses never touches the username's
        wait. An unknown username costs the same checks and counts the same failures as a
        known one, so the answers cannot tell them apart.
        """
        at = time.time()
        wait = self.counters.take_signin_check(address_key(address), at, self.policy)
        if wait:
            return Checked(None, wait)
        key = self._counter(username, device, at)
        wait = self.counters.claim_signin(key, at, self.policy)
        if wait:
            return Checked(None, wait)
        account = lookup(username) if len(username) <= MAX_USERNAME else None
        ok = _password_ok(self.hasher, account.password_hash if account else self._dummy_hash,
                          password)
        if not ok or account is None:
            self.counters.signin_failed(key, time.time(), self.policy)
            return Checked(None)
        # A device's right password clears only its own count: the username's wait, set by
        # strangers, stays for the browsers the user never signed in with.
        self.counters.signin_succeeded(key)
        return Checked(account)

    def _counter(self, username: str, device: str | None, at: float) -> str:
        """The device's own counter while it has free tries left, else the username's."""
        if device is not None:
            key = device_key(username, device)
            if self.counters.signin_failures(key, at, self.policy) < self.policy.free_failures:
                return key
        return username_key(username)


def password_hasher(parameters: Parameters | None = None) -> PasswordHasher:
    """The Argon2id hasher of every account's password: argon2-cffi's defaults (RFC 9106's
    low-memory profile), unless PARAMETERS say otherwise (the app config PASSWORD_HASH_PARAMETERS,
    which only a test suite sets: gateway/bootstrap.py)."""
    return PasswordHasher.from_parameters(parameters) if parameters else PasswordHasher()


def _password_ok(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
