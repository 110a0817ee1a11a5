"""Unit of work: one transaction holding the resources and the events they cause."""
from __future__ import annotations

from typing import Protocol

from sqlalchemy.engine import Engine

from services.common.db import read_only, transaction
from services.common.outbox import enqueue
from services.records.adapters.repository import SqlResourceRepository
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
        return self._tx.__exit__(*exc)

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of this transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)


class ConnectionUnitOfWork:
    """A unit of work inside a transaction someone else opened (an idempotent consumer's)."""

    def __init__(self, conn, checker=None):
        self.conn, self.checker = conn, checker
        self.resources = SqlResourceRepository(conn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def publish(self, topic: str, event: dict) -> None:
        """Queue EVENT in the outbox of the enclosing transaction."""
        enqueue(self.conn, outbox, topic, event, checker=self.checker)
