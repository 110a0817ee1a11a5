"""Unit of work: one transaction holding the resources and the events they cause."""
from __future__ import annotations

import sys
from typing import Protocol

from sqlalchemy.engine import Engine

from services.common.db import read_only, transaction
from services.common.outbox import enqueue
from services.common.prepared import raw_cursor
from services.records.adapters.repository import ResourceReads, SqlResourceRepository
from services.records.adapters.tables import outbox


class UnitOfWork(Protocol):
    resources: object

    def __enter__(self) -> "UnitOfWork": ...

    def __exit__(self, *exc) -> None: ...

    def publish(self, topic: str, event: dict) -> None: ...


class SqlUnitOfWork:
    """Resources and outbox rows commit together, or nothing is written."""

    def __init__(self, engine: Engine, write: bool = True, checker=None):
        self.engine, self.write, self.checker = engine, write, checker

    def __enter__(self):
        self._tx = transaction(self.engine) if self.write else read_only(self.engine)
        self.conn = self._tx.__enter__()
        self.resources = SqlResourceRepository(self.conn)
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.write:
            try:
                self.resources.count_changes()
            except BaseException:  # the transaction still ends (rolled back), then the error goes on
                if not self._tx.__exit__(*sys.exc_info()):
                    raise
                return False
        return self._tx.__exit__(*exc)

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of this transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)


class _BoundReads:
    def __init__(self, reads, cursor):
        self._reads, self._cursor = reads, cursor

    def get(self, resource_type: str, rid: str):
        return self._reads.get(self._cursor, resource_type, rid)


class ReadUnitOfWork:
    """Reads by id on a pooled raw connection, outside any transaction
    (services.common.prepared.raw_cursor): each sees what is committed when it runs, as with
    SqlUnitOfWork(write=False). Shaped like a unit of work for handlers.read_resource."""

    def __init__(self, engine: Engine, reads: ResourceReads):
        self.engine, self.reads = engine, reads

    def __enter__(self):
        self._cursor_cm = raw_cursor(self.engine)
        self.resources = _BoundReads(self.reads, self._cursor_cm.__enter__())
        return self

    def __exit__(self, *exc):
        return self._cursor_cm.__exit__(*exc)


class ConnectionUnitOfWork:
    """A unit of work inside a transaction someone else opened (an idempotent consumer's)."""

    def __init__(self, conn, checker=None):
        self.conn, self.checker = conn, checker
        self.resources = SqlResourceRepository(conn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.resources.count_changes()
        return None

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of the enclosing transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)
