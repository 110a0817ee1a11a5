"""The set of revoked access-token jtis, kept in memory and refreshed from the database.

Every process polls the append-only ``revoked_jtis`` table at most once per
``refresh_seconds``; a revocation made in this process is seen at once, one made in another
server worker process within ``refresh_seconds``.

Rows are read by id, but an id is handed out when the row is inserted, not when its
transaction commits: on PostgreSQL a revocation that took id 10 can commit after the one that
took id 11 was already read. So each poll reads from the high-water mark as it stood
``OVERLAP_SECONDS`` ago, not from the newest id: a revocation is missed only if its
transaction took longer than that to commit. The list also serves the services' copies
(``GET /oauth/revoked`` below, read by services.common.auth.RevocationFeed).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque

from flask import Blueprint, Response, request

from gateway.authz.stores import TokenStore
from services.common.auth import LEEWAY_SECONDS
from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)
MAX_STALENESS = 30.0
#: How long a revocation's transaction may take to commit and still be seen (one short write).
OVERLAP_SECONDS = 60.0


class RevocationList:
    """Answer "is this jti revoked?" without a database round trip per request."""

    def __init__(self, store: TokenStore, refresh_seconds: float = 1.0,
                 overlap_seconds: float = OVERLAP_SECONDS):
        self.store, self.refresh_seconds = store, refresh_seconds
        self.overlap_seconds = overlap_seconds
        self._revoked: dict[str, int] = {}
        self._last_id = 0
        # (when a poll started, the high-water mark before it), oldest first
        self._marks: deque[tuple[float, int]] = deque()
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._snapshot: tuple[str, bytes] | None = None

    def is_revoked(self, jti: str) -> bool:
        self.refresh_if_due()
        return jti in self._revoked

    def refresh_if_due(self) -> None:
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()

    def refresh(self) -> None:
        """Load the revocations made since the last polls and forget the expired ones."""
        with self._lock:
            started = time.monotonic()
            floor = self._floor(started)
            try:
                rows = self.store.revoked_since(floor)
            except Exception as exc:  # the database is down: keep the list while it is fresh
                if started - self._checked > MAX_STALENESS:
                    raise Problem(503, N_("Service Unavailable"),
                                  N_("Token revocations cannot be checked right now."),
                                  next_step=N_("Try again in a few minutes.")) from exc
                log.warning("revocation poll failed: %s", exc)
                return
            self._marks.append((started, self._last_id))
            now = time.time()
            for row_id, jti, expires_at in rows:
                self._last_id = max(self._last_id, row_id)
                if expires_at + LEEWAY_SECONDS >= now and jti not in self._revoked:
                    self._revoked[jti] = expires_at
                    self._snapshot = None
            if rows and len(self._revoked) > 1000:
                self._forget_expired(now)
            self._checked = started

    def _floor(self, started: float) -> int:
        """The high-water mark of the newest poll at least OVERLAP_SECONDS old (0 before one)."""
        marks = self._marks
        while len(marks) > 1 and started - marks[1][0] >= self.overlap_seconds:
            marks.popleft()
        return marks[0][1] if marks and started - marks[0][0] >= self.overlap_seconds else 0

    def _forget_expired(self, now: float) -> None:
        # Kept past exp by the validators' leeway, within which they still accept the token.
        kept = {j: e for j, e in self._revoked.items() if e + LEEWAY_SECONDS >= now}
        if len(kept) != len(self._revoked):
            self._revoked, self._snapshot = kept, None

    def snapshot(self) -> tuple[str, bytes]:
        """Return (an ETag, the JSON body) of the unexpired revocations, for the services' copies."""
        self.refresh_if_due()
        with self._lock:
            self._forget_expired(time.time())
            if self._snapshot is None:
                body = json.dumps({"revoked": [{"jti": j, "exp": e} for j, e
                                               in sorted(self._revoked.items())]},
                                  separators=(",", ":")).encode()
                self._snapshot = ('"' + hashlib.sha256(body).hexdigest()[:32] + '"', body)
            return self._snapshot


def create_blueprint(revocations: RevocationList) -> Blueprint:
    """``GET /oauth/revoked``: the unexpired revoked jtis, for the services' copies.

    Open like the JWKS: a jti names a token without being one, and the list holds nothing
    about whom a token was for. Conditional (ETag), so an unchanged list costs a 304.
    """
    bp = Blueprint("revocations", __name__)

    @bp.get("/oauth/revoked")
    def revoked():
        """Return the revoked access tokens that have not expired yet."""
        etag, body = revocations.snapshot()
        headers = {"ETag": etag, "Cache-Control": "no-store"}
        if etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        return Response(body, mimetype="application/json", headers=headers)

    return bp
