"""Unit of work: one transaction holding consents, grants and the events they cause."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from services.common.db import read_only, transaction
from services.common.outbox import enqueue
from services.consent.adapters.repository import SqlBreakGlassRepository, SqlConsentRepository
from services.consent.adapters.tables import outbox


class SqlUnitOfWork:
    """Consents, grants and outbox rows commit together, or nothing is written.

    Leaving the ``with`` block commits, so a handler that returns has made its change
    durable and visible to every later reader: no decision is cached anywhere.
    """

    def __init__(self, engine: Engine, write: bool = True, checker=None):
        self.engine, self.write, self.checker = engine, write, checker

    def __enter__(self):
        self._tx = transaction(self.engine) if self.write else read_only(self.engine)
        self.conn = self._tx.__enter__()
        self.consents = SqlConsentRepository(self.conn)
        self.grants = SqlBreakGlassRepository(self.conn)
        return self

    def __exit__(self, *exc):
        return self._tx.__exit__(*exc)

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of this transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)
