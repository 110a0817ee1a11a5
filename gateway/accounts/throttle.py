"""Sign-in throttling rules: growing delays per username, a password-check budget per address.

Pure arithmetic; the counters live in the gateway's database (gateway/accounts/stores.py), so every
worker process sees the same ones. Written here rather than with the ``limits`` library:
its storages are memory, Redis, Memcached, MongoDB and etcd (none is the database the gateway
already has), and it offers fixed and moving windows, not delays that grow with each failure.

The rules (OWASP Authentication Cheat Sheet, "Account lockout"): no hard lock a stranger can
set off. After FREE_FAILURES wrong tries for one username (known or not), each next try must
wait BASE, 2 BASE, 4 BASE, ... seconds, at most CAP, counted from the last wrong try; a try
during the wait is answered at once, never checked, and never lengthens it; a right password
once the wait is over signs in and clears the count. Each client address also has a budget
of password checks (a token bucket) so that no address can make the gateway compute Argon2
hashes without bound; a try spends it before anything else, so a refused try costs only the
sender's budget.

A browser that signed in before (a device cookie, devices.py) is counted apart: its
tries for that username use the device's own count, not the username's, so a stranger who
drives the username's wait up slows only browsers the user never signed in with
(OWASP, "Slow down online guessing attacks with device cookies"). A device that reaches
FREE_FAILURES wrong tries is counted with everyone else until its next right password.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SignInPolicy:
    """The numbers of the sign-in throttle (gateway/bootstrap.py DEFAULTS, app config)."""

    free_failures: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    #: a username's count is forgotten after this long without a wrong try; it must stay well
    #: above CAP, or waiting out the cap would hand out FREE_FAILURES fresh tries
    forget_seconds: float = 24 * 3600.0
    checks_per_minute: float = 20.0
    check_burst: int = 20

    def delay(self, failures: int) -> float:
        """Seconds between tries after FAILURES wrong tries in a row (0 for the first few)."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(over, 60))

    def refill(self, tokens: float, since: float, at: float) -> float:
        """The budget's tokens at AT, given TOKENS at SINCE."""
        rate = self.checks_per_minute / 60.0
        return min(float(self.check_burst), tokens + max(0.0, at - since) * rate)

    def budget_wait(self, tokens: float) -> float:
        """Seconds until a budget holding TOKENS (< 1) has one token again."""
        rate = self.checks_per_minute / 60.0
        return (1.0 - tokens) / rate if rate > 0 else self.cap_seconds


def whole_seconds(wait: float) -> int:
    """A wait as the whole seconds to tell a person (and Retry-After): at least 1."""
    return max(1, math.ceil(wait))


def told_wait(wait: float) -> tuple[str, int, int]:
    """A wait as a person is told it: ("seconds", n) up to 90 s, else ("minutes", n), with the
    Retry-After seconds that say the same (never "1 seconds": at least 2)."""
    seconds = max(2, whole_seconds(wait))
    if seconds <= 90:
        return "seconds", seconds, seconds
    minutes = math.ceil(seconds / 60)
    return "minutes", minutes, minutes * 60


def username_key(username: str) -> str:
    """The counter key of a typed username.

    Hashed: people sometimes type their password into the username field, and the throttle
    must not keep it in clear; and any length of input maps to one fixed-size key.
    """
    return hashlib.sha256(b"user\0" + username.encode("utf-8", "surrogatepass")).hexdigest()


def device_key(username: str, nonce: str) -> str:
    """The counter key of one device's tries for one username."""
    return hashlib.sha256(b"device\0" + username.encode("utf-8", "surrogatepass") + b"\0"
                          + nonce.encode("utf-8", "surrogatepass")).hexdigest()


def second_factor_key(account_id: str) -> str:
    """The counter key of one member of staff's second-factor tries (staff_signin.py): a wrong
    TOTP or recovery code slows the next try as a wrong password does."""
    return hashlib.sha256(b"second factor\0" + account_id.encode("utf-8", "surrogatepass")).hexdigest()


def address_key(address: str) -> str:
    """The counter key of a client address: an IPv6 address counts as its /64.

    One IPv6 host is usually given a whole /64 and may send from any address in it, so
    counting each address alone would give it an unbounded budget of password checks.
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    elif isinstance(ip, ipaddress.IPv6Address):
        address = str(ip.ipv4_mapped)
    return hashlib.sha256(b"addr\0" + address.encode("utf-8", "surrogatepass")).hexdigest()
