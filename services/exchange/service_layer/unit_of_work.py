"""Unit of work: one transaction holding the exchange tables and the events their changes cause."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.db import read_only, transaction
from services.common.outbox import enqueue
from services.exchange.adapters.repository import (SqlBreakGlassReviews, SqlDepartments, SqlEquityProjection,
                                                   SqlLedger, SqlMeasures, SqlNotifications, SqlPatientIndex,
                                                   SqlRequests)
from services.exchange.adapters.notice_repository import SqlNotices
from services.exchange.adapters.receipt_repository import SqlNotices as SqlDepartmentNotices
from services.exchange.adapters.receipt_repository import SqlWebhooks
from services.exchange.adapters.report_repository import SqlCorrectionRequests, SqlReports, SqlStaffCounts
from services.exchange.adapters.subscription_repository import SqlSubscriptions
from services.exchange.adapters.tables import outbox


class _OnConnection:
    """The repositories and the outbox, on one connection."""

    checker = None

    def _bind(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.requests = SqlRequests(conn)
        self.ledger = SqlLedger(conn)
        self.notifications = SqlNotifications(conn)
        self.patients = SqlPatientIndex(conn)
        self.equity = SqlEquityProjection(conn)
        self.departments = SqlDepartments(conn)
        self.reviews = SqlBreakGlassReviews(conn)
        self.measures = SqlMeasures(conn)
        self.reports = SqlReports(conn)
        self.staff_counts = SqlStaffCounts(conn)
        self.corrections = SqlCorrectionRequests(conn)
        self.notices = SqlNotices(conn)  # notices outside the app: addresses, choices, deliveries
        self.department_notices = SqlDepartmentNotices(conn)  # departments told a consent ended
        self.webhooks = SqlWebhooks(conn)
        self.subscriptions = SqlSubscriptions(conn)

    def publish(self, topic: str, event: dict, traceparent: str | None = None, created_at=None) -> None:
        """Queue EVENT in the outbox of this transaction, in the trace of TRACEPARENT (by default
        the active span's: the request or event that caused it), at CREATED_AT (default now)."""
        enqueue(self.conn, outbox, topic, event, traceparent=traceparent, checker=self.checker,
                created_at=created_at)


class SqlUnitOfWork(_OnConnection):
    """Requests, ledger entries, notifications and outbox rows commit together, or nothing is
    written. Leaving the ``with`` block commits."""

    def __init__(self, engine: Engine, write: bool = True, checker=None):
        self.engine, self.write, self.checker = engine, write, checker

    def __enter__(self):
        self._tx = transaction(self.engine) if self.write else read_only(self.engine)
        self._bind(self._tx.__enter__())
        return self

    def __exit__(self, *exc):
        return self._tx.__exit__(*exc)


class ConnectionUnitOfWork(_OnConnection):
    """A unit of work inside a transaction someone else opened (an idempotent consumer's, the
    sweeper's): that transaction commits or rolls back, not this."""

    def __init__(self, conn: sa.Connection, checker=None):
        self.checker = checker
        self._bind(conn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def on(work, checker=None):
    """Return WORK when it is a unit of work (it publishes), else a ConnectionUnitOfWork on WORK,
    the connection of a transaction the caller opened."""
    return work if hasattr(work, "publish") else ConnectionUnitOfWork(work, checker)
