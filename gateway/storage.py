"""What the gateway's stores share: one engine, secrets kept as hashes, the clock, an insert
that may lose a race.

Each aggregate has a small store of its own in the subpackage that owns it: clients,
authorization codes, login tickets and tokens in gateway/authz/stores.py; accounts, caregivers'
grants and the sign-in counters in gateway/accounts/stores.py. Every write is one transaction.
The stores read the time as ``storage.now()``, so a test that moves this clock moves it for all.
"""
from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError


def digest(secret: str) -> str:
    """Hash a high-entropy secret (codes, tokens, client secrets) for storage and lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> int:
    """The time as the gateway's tables keep it: integer Unix seconds."""
    return int(time.time())


def inserted(conn, table: sa.Table, **values) -> bool:
    """Insert a row; False when a concurrent transaction inserted its key first (PostgreSQL)."""
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(table).values(**values))
        return True
    except IntegrityError:
        return False


class TableStore:
    """A store over one SQLAlchemy engine.

    Writes that other services hear about queue their event in the same transaction
    (gateway/accounts/events.py); CHECKER (a contracts.events.EventChecker) validates them first.
    """

    def __init__(self, engine: Engine, checker=None):
        self.engine, self.checker = engine, checker

    def _one(self, query):
        with self.engine.connect() as conn:
            return conn.execute(query).mappings().first()
