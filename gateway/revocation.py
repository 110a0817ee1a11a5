"""The set of revoked access-token jtis, kept in memory and refreshed from the database.

Every process polls the append-only ``revoked_jtis`` table for rows newer than the last one it
saw, at most once per ``refresh_seconds``; a revocation made in this process is seen at once,
one made in another server worker process within ``refresh_seconds``.
"""
from __future__ import annotations

import logging
import threading
import time

from gateway.store import Store
from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)
MAX_STALENESS = 30.0


class RevocationList:
    """Answer "is this jti revoked?" without a database round trip per request."""

    def __init__(self, store: Store, refresh_seconds: float = 1.0):
        self.store, self.refresh_seconds = store, refresh_seconds
        self._revoked: dict[str, int] = {}
        self._last_id = 0
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def is_revoked(self, jti: str) -> bool:
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()
        return jti in self._revoked

    def refresh(self) -> None:
        """Load the revocations made since the last poll and forget the expired ones."""
        with self._lock:
            started = time.monotonic()
            try:
                rows = self.store.revoked_since(self._last_id)
            except Exception as exc:  # the database is down: keep the list while it is fresh
                if started - self._checked > MAX_STALENESS:
                    raise Problem(503, N_("Service Unavailable"),
                                  N_("Token revocations cannot be checked right now."),
                                  next_step=N_("Try again in a few minutes.")) from exc
                log.warning("revocation poll failed: %s", exc)
                return
            now = time.time()
            for row_id, jti, expires_at in rows:
                self._last_id = max(self._last_id, row_id)
                if expires_at >= now:
                    self._revoked[jti] = expires_at
            if rows and len(self._revoked) > 1000:
                self._revoked = {j: e for j, e in self._revoked.items() if e >= now}
            self._checked = started
