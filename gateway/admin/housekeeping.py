"""Deleting the gateway's rows that no longer matter: tokens and revocations past their expiry.

Every access token the gateway issues leaves a ``tokens`` row (and a revoked one a
``revoked_jtis`` row); without this they would stay for ever. The gateway worker runs
``prune`` every PRUNE_EVERY_SECONDS. A row goes only MARGIN_SECONDS after everything it
stands for expired, well past the 30 s leeway with which services accept a token's ``exp``.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy.engine import Engine

from gateway.authz.stores import TokenStore

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
MARGIN_SECONDS = 3600


def prune(engine: Engine, now: int | None = None) -> tuple[int, int]:
    """Delete token rows and revocations that expired MARGIN_SECONDS ago; return how many of each."""
    now = int(time.time()) if now is None else now
    tokens = TokenStore(engine)
    done = tokens.prune(now - MARGIN_SECONDS), tokens.prune_revocations(now - MARGIN_SECONDS)
    if any(done):
        log.info("deleted %d expired token rows and %d expired revocations", *done)
    return done
