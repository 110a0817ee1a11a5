"""Unit of work: one transaction holding consents, grants, sharing requests and the events they cause."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from services.common.db import read_only, transaction
from services.common.outbox import enqueue
from services.common.prepared import raw_cursor
from services.consent.adapters.repository import (SqlBreakGlassRepository, SqlConsentRepository, SqlMeasures,
                                                  SqlSharingRequestRepository)
from services.consent.adapters.tables import outbox


class SqlUnitOfWork:
    """Consents, grants, sharing requests and outbox rows commit together, or nothing is written.

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
        self.sharing = SqlSharingRequestRepository(self.conn)
        self.measures = SqlMeasures(self.conn)
        return self

    def __exit__(self, *exc):
        return self._tx.__exit__(*exc)

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of this transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)


class _Bound:
    """DecisionReads bound to one cursor, shaped like the repositories handlers.decide reads."""

    def __init__(self, reads, cursor):
        self._reads, self._cursor = reads, cursor

    def active_for(self, patient: str, department: str):
        return self._reads.active_for(self._cursor, patient, department)

    def live_for(self, patient: str, department: str, now):
        return self._reads.live_for(self._cursor, patient, department, now)


class DecisionUnitOfWork:
    """The decision path's reads on a pooled raw connection, without a write transaction
    (services.common.prepared.raw_cursor): a revocation that has returned is seen by the next
    decision, as with SqlUnitOfWork(write=False)."""

    def __init__(self, engine: Engine, reads):
        self.engine, self.reads = engine, reads

    def __enter__(self):
        self._cursor_cm = raw_cursor(self.engine)
        self.consents = self.grants = _Bound(self.reads, self._cursor_cm.__enter__())
        return self

    def __exit__(self, *exc):
        return self._cursor_cm.__exit__(*exc)
