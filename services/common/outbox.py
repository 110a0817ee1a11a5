"""Transactional outbox (DESIGN section 2): the state change and its event commit together.

A relay in the worker process publishes what is pending and marks it sent; delivery is at
least once, and consumers are idempotent (see consumer.py).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.db import ChangeProbe, transaction
from services.common.envelope import new_traceparent

log = logging.getLogger(__name__)


def _outbox_columns() -> list[sa.Column]:
    return [
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True, index=True),
    ]


def _processed_columns() -> list[sa.Column]:
    return [
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Declare the outbox and processed-event tables on a service's METADATA."""
    return (sa.Table("outbox", metadata, *_outbox_columns()),
            sa.Table("processed_events", metadata, *_processed_columns()))


def create_messaging_tables(op) -> None:
    """Create the outbox and processed-event tables from an Alembic migration."""
    op.create_table("outbox", *_outbox_columns())
    op.create_table("processed_events", *_processed_columns())


def enqueue(conn: sa.Connection, outbox: sa.Table, topic: str, event: dict,
            traceparent: str | None = None, checker=None) -> None:
    """Add EVENT to the outbox inside the caller's transaction (key = the event's subject).

    CHECKER (a contracts.events.EventChecker) validates the event against its schema first.
    """
    if checker is not None:
        checker.check(event)
    conn.execute(outbox.insert().values(
        event_id=event["id"], topic=topic, key=event.get("subject") or "",
        payload=json.dumps(event, separators=(",", ":")),
        traceparent=traceparent or new_traceparent(), created_at=datetime.now(timezone.utc)))


class Publisher(Protocol):
    """Something that durably publishes messages (Kafka in production, a list in unit tests)."""

    def publish(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None: ...

    def flush(self) -> None: ...


class KafkaPublisher:
    """Publish with kafka-python, waiting for every acknowledgement on flush().

    Takes a producer or a zero-argument factory. With a factory, a failed flush throws the
    producer away with whatever it still buffers, so that messages the relay will send
    again are not also retried by the old producer (fewer duplicates after an outage).
    """

    def __init__(self, producer, timeout: float = 10.0):
        self._factory = producer if callable(producer) and not hasattr(producer, "send") else None
        self._producer = None if self._factory else producer
        self._timeout, self._pending = timeout, []

    def _client(self):
        if self._producer is None:
            self._producer = self._factory()
        return self._producer

    def publish(self, topic, key, value, headers):
        self._pending.append(self._client().send(topic, key=key.encode(), value=value, headers=headers))

    def flush(self):
        pending, self._pending = self._pending, []
        try:
            for future in pending:
                future.get(timeout=self._timeout)
        except Exception:
            if self._factory is not None and self._producer is not None:
                self._producer.close(timeout=0)
                self._producer = None
            raise


class OutboxRelay:
    """Publish pending outbox rows in order and mark them sent."""

    def __init__(self, engine: Engine, outbox: sa.Table, publisher: Publisher,
                 batch: int = 200, poll_seconds: float = 0.02, probe_floor: float = 1.0,
                 retention: timedelta | None = timedelta(days=7), prune_every: float = 3600.0):
        self.engine, self.outbox, self.publisher = engine, outbox, publisher
        self.batch, self.poll_seconds, self.probe_floor = batch, poll_seconds, probe_floor
        # Sent rows are kept RETENTION (None: for ever) for whoever investigates a delivery,
        # then deleted, so the outbox does not grow with every event the service ever sent.
        self.retention, self.prune_every = retention, prune_every
        self._next_prune = 0.0

    def run_once(self) -> int:
        """Publish one batch; return how many rows were sent."""
        o = self.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(o.c.seq, o.c.topic, o.c.key, o.c.payload, o.c.traceparent)
                                .where(o.c.sent_at.is_(None)).order_by(o.c.seq)
                                .limit(self.batch)).all()
        if not rows:
            return 0
        for row in rows:
            headers = [("content-type", b"application/cloudevents+json")]
            if row.traceparent:
                headers.append(("traceparent", row.traceparent.encode()))
            self.publisher.publish(row.topic, row.key, row.payload.encode(), headers)
        self.publisher.flush()  # only acknowledged messages are marked sent
        with transaction(self.engine) as conn:
            conn.execute(o.update().where(o.c.seq.in_([r.seq for r in rows]))
                         .values(sent_at=datetime.now(timezone.utc)))
        return len(rows)

    def prune(self, now: datetime | None = None) -> int:
        """Delete the rows sent longer than the retention ago; return how many."""
        if self.retention is None:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - self.retention
        o = self.outbox
        with transaction(self.engine) as conn:
            return conn.execute(o.delete().where(o.c.sent_at.is_not(None), o.c.sent_at < cutoff)).rowcount

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + self.prune_every
        try:
            pruned = self.prune()
        except Exception as exc:  # database away: the next round tries again
            log.warning("outbox prune skipped: %s", exc)
            return
        if pruned:
            log.info("deleted %d outbox rows sent more than %s ago", pruned, self.retention)

    def run_forever(self, stop: threading.Event) -> None:
        """Relay until STOP is set, backing off while the broker or database is away.

        Between polls a ChangeProbe says whether anything was committed since the last look;
        the outbox is read only then (and at least once a second).
        """
        probe = ChangeProbe(self.engine, self.probe_floor)
        try:
            self._relay(stop, probe)
        finally:
            probe.close()

    def _relay(self, stop: threading.Event, probe: ChangeProbe) -> None:
        backoff = self.poll_seconds
        while not stop.is_set():
            self._maybe_prune()
            if backoff == self.poll_seconds and not probe.changed():
                stop.wait(backoff)
                continue
            try:
                sent = self.run_once()
                backoff = self.poll_seconds
                if sent:
                    log.debug("relayed %d events", sent)
                    continue
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay paused: %s", exc)
                backoff = min(max(backoff * 2, 0.2), 5.0)
            stop.wait(backoff)
