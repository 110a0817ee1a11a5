"""Deleting the gateway's rows that no longer matter: tokens and revocations past their expiry.

Every access token the gateway issues leaves a ``tokens`` row (and a revoked one a
``revoked_jtis`` row); without this they would stay for ever. The gateway worker runs
``prune`` every PRUNE_EVERY_SECONDS. A row goes only MARGIN_SECONDS after everything it
stands for expired, well past the 30 s leeway with which services accept a token's ``exp``.
"""
from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway import schema as t
from services.common.db import transaction

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
MARGIN_SECONDS = 3600


def prune_tokens(engine: Engine, now: int, margin: int = MARGIN_SECONDS) -> int:
    """Delete the token rows whose access token and refresh token (if any) expired MARGIN ago."""
    cutoff = now - margin
    tokens = t.tokens
    with transaction(engine) as conn:
        return conn.execute(tokens.delete().where(
            tokens.c.expires_at < cutoff,
            sa.or_(tokens.c.refresh_expires_at.is_(None), tokens.c.refresh_expires_at < cutoff))).rowcount


def prune_revocations(engine: Engine, now: int, margin: int = MARGIN_SECONDS) -> int:
    """Delete the revocations of access tokens that expired MARGIN ago, except the newest row.

    The revocation pollers (gateway.authz.revocation) read rows by id; SQLite, without
    AUTOINCREMENT, hands out the largest id + 1, so deleting the newest row would let the next
    revocation take an id a poller has already passed. An expired token needs no revocation:
    its ``exp`` refuses it everywhere.
    """
    revoked = t.revoked_jtis
    with transaction(engine) as conn:
        newest = conn.execute(sa.select(sa.func.max(revoked.c.id))).scalar()
        if newest is None:
            return 0
        return conn.execute(revoked.delete().where(revoked.c.expires_at < now - margin,
                                                   revoked.c.id < newest)).rowcount


def prune(engine: Engine, now: int | None = None) -> tuple[int, int]:
    """Delete expired token rows and revocations; return how many of each."""
    now = int(time.time()) if now is None else now
    done = prune_tokens(engine, now), prune_revocations(engine, now)
    if any(done):
        log.info("deleted %d expired token rows and %d expired revocations", *done)
    return done
