"""The client address the portal vouches for when it calls the accounts API for a visitor.

The portal calls ``/accounts/v1/activate`` over HTTP like any app (gateway/portal/client.py),
so the API sees the gateway's own address, and a limit per address would lump every patient
together. The portal therefore signs the visitor's address (HMAC-SHA256, RFC 2104) with a key
only the gateway's processes hold, derived from the portal's session key; the API believes
the header only when the signature checks and it is fresh. Anyone else sending the header is
treated as the address they connect from.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-PHR-Client-Address"
MAX_AGE_SECONDS = 60  # the portal's call follows the visitor's request at once


class AddressVoucher:
    """Sign and check the visitor's address the portal passes on."""

    def __init__(self, session_key: bytes, *fallbacks: bytes):
        # A key of its own, so a signature here can never stand for a session cookie's.
        # FALLBACKS: the session keys of before a change, which another gateway may still sign with.
        self._keys = [hmac.new(key, b"phr portal client address", hashlib.sha256).digest()
                      for key in (session_key, *fallbacks)]

    def _mac(self, address: str, at: str, key: int = 0) -> str:
        return hmac.new(self._keys[key], f"{address} {at}".encode(), hashlib.sha256).hexdigest()

    def headers(self, address: str, at: float | None = None) -> dict[str, str]:
        """The header that vouches for ADDRESS."""
        stamp = str(int(time.time() if at is None else at))
        return {HEADER: f"{address} {stamp} {self._mac(address, stamp)}"}

    def address(self, value: str | None, at: float | None = None) -> str | None:
        """The address a header VALUE vouches for, or None unless it is ours and fresh."""
        parts = (value or "").split(" ")
        if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12):
            return None
        address, stamp, mac = parts
        if abs((time.time() if at is None else at) - int(stamp)) > MAX_AGE_SECONDS:
            return None
        # Bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters,
        # and this header comes from anyone.
        given = mac.encode("utf-8", "replace")
        if any(hmac.compare_digest(given, self._mac(address, stamp, key).encode())
               for key in range(len(self._keys))):
            return address
        return None
