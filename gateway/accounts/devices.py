"""Device cookies: a browser that signed in before keeps signing in while strangers are slowed.

OWASP, "Slow down online guessing attacks with device cookies": after a right password the
gateway gives the browser a cookie naming (a keyed hash of) the username, a random nonce and
the time, signed with HMAC-SHA256 (RFC 2104) under a key derived from the portal's session
key, as forwarded.py derives its own. A later sign-in for the same username that carries a
valid cookie is throttled on that device's own counter (throttle.py ``device_key``), not on
the username's counter that anyone can drive up. Nothing is stored server-side but the
device's count of wrong tries.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

COOKIE = "phr_device"
PATH = "/oauth/authorize"  # sent with the sign-in form only
LIFETIME_SECONDS = 180 * 86400
_MAX_LENGTH = 200  # a real cookie is about 130 characters


class DeviceCookies:
    """Issue and check the device cookies of the sign-in form."""

    def __init__(self, session_key: bytes, *fallbacks: bytes):
        # A key of its own, so a signature here can never stand for another's. FALLBACKS are the
        # session keys of before a change (gateway/portal/secret.py): their cookies still count.
        self._keys = [hmac.new(key, b"phr sign-in device cookie", hashlib.sha256).digest()
                      for key in (session_key, *fallbacks)]

    def _sign(self, text: str, key: int = 0) -> str:
        return hmac.new(self._keys[key], text.encode(), hashlib.sha256).hexdigest()

    def _user(self, username: str, key: int = 0) -> str:
        """A keyed hash of USERNAME: the cookie does not show whose it is."""
        return self._sign("user\0" + username, key)[:32]

    def issue(self, username: str, at: float | None = None) -> str:
        """A new cookie value for USERNAME, with a fresh nonce."""
        stamp = str(int(time.time() if at is None else at))
        body = f"{self._user(username)}.{secrets.token_urlsafe(16)}.{stamp}"
        return f"{body}.{self._sign(body)}"

    def nonce(self, value: str | None, username: str, at: float | None = None) -> str | None:
        """The nonce of a cookie VALUE issued to USERNAME and still in force, else None."""
        if not value or len(value) > _MAX_LENGTH or not value.isascii():
            return None  # compare_digest refuses non-ASCII text (a TypeError, a 500)
        parts = value.split(".")
        if len(parts) != 4 or not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 12):
            return None
        user, nonce, stamp, mac = parts
        age = (time.time() if at is None else at) - int(stamp)
        if not -60 <= age <= LIFETIME_SECONDS:
            return None
        for key in range(len(self._keys)):
            if hmac.compare_digest(mac, self._sign(f"{user}.{nonce}.{stamp}", key)):
                return nonce if hmac.compare_digest(user, self._user(username, key)) else None
        return None
