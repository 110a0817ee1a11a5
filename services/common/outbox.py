"""Transactional outbox (docs/architecture.md, "Events"): the state change and its event commit together.

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
from kafka.errors import (InvalidRecordError, MessageSizeTooLargeError,
                          RecordListTooLargeError)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.common import kafka
from services.common.db import ChangeProbe, Notifications, connection_info, transaction
from services.common.envelope import new_traceparent
from services.common.tracing import current_traceparent

log = logging.getLogger(__name__)

#: Produce errors about the record itself (Kafka error codes 10, 18, 87): sending the same
#: bytes again can never succeed, unlike a broker that is away or a leader that moved.
#: CORRUPT_MESSAGE (2) is not one: a checksum spoiled on the way is retried, as Kafka's clients do.
RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError)


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


def _dead_letter_columns() -> list[sa.Column]:
    # A row the broker refuses for good is parked here instead of blocking every row after it.
    return [
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_reason", sa.String(200), nullable=True),
    ]


def _processed_columns() -> list[sa.Column]:
    return [
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Declare the outbox and processed-event tables on a service's METADATA."""
    return (sa.Table("outbox", metadata, *_outbox_columns(), *_dead_letter_columns()),
            sa.Table("processed_events", metadata, *_processed_columns()))


def create_messaging_tables(op) -> None:
    """Create the outbox and processed-event tables from an Alembic migration.

    This is the first version of the tables, which earlier migrations created; what came
    later is added by its own migration (add_dead_letter_columns).
    """
    op.create_table("outbox", *_outbox_columns())
    op.create_table("processed_events", *_processed_columns())


def add_dead_letter_columns(op) -> None:
    """Add the parked (dead-letter) columns to an existing outbox from an Alembic migration."""
    with op.batch_alter_table("outbox") as batch:
        for column in _dead_letter_columns():
            batch.add_column(column)


def drop_dead_letter_columns(op) -> None:
    """Undo add_dead_letter_columns."""
    with op.batch_alter_table("outbox") as batch:
        for column in _dead_letter_columns():
            batch.drop_column(column.name)


def enqueue(conn: sa.Connection, outbox: sa.Table, topic: str, event: dict,
            traceparent: str | None = None, checker=None, created_at: datetime | None = None) -> None:
    """Add EVENT to the outbox inside the caller's transaction (key = the event's subject).

    CHECKER (a contracts.events.EventChecker) validates the event against its schema first.
    The row keeps TRACEPARENT, by default the active span's (the request or the event that
    caused this one), so the relay's message continues that trace (services/common/tracing.py).
    CREATED_AT (default now) is the row's time and its message's Kafka timestamp: an event
    that must not tell the minute it happened (an anonymous report) passes a coarser one.
    """
    if checker is not None:
        checker.check(event)
    conn.execute(outbox.insert().values(
        event_id=event["id"], topic=topic, key=event.get("subject") or "",
        payload=json.dumps(event, separators=(",", ":")),
        traceparent=traceparent or current_traceparent() or new_traceparent(),
        created_at=created_at or datetime.now(timezone.utc)))
    # Read by the relays of this process when the transaction commits (OutboxRelay._committed).
    conn.info[_ENQUEUED] = True
    if conn.dialect.name == "postgresql":
        # Delivered when the caller's transaction commits (never if it rolls back), and folded
        # into one when a transaction enqueues several: it wakes the relays (OutboxRelay).
        conn.execute(sa.select(sa.func.pg_notify(wake_channel(outbox), "")))


#: A connection's info key: it enqueued since its last commit (see OutboxRelay._committed).
_ENQUEUED = "phr_outbox_enqueued"
#: A connection's info key: a transaction that enqueued committed (see OutboxRelay._checked_in).
_COMMITTED = "phr_outbox_committed"


def wake_channel(outbox: sa.Table) -> str:
    """The PostgreSQL channel ENQUEUE notifies and the relays of OUTBOX listen on."""
    return f"phr_{outbox.fullname}"


def _millis(created_at: datetime | None) -> int | None:
    """CREATED_AT as a Kafka timestamp (ms since the epoch; a naive time is UTC, as SQLite gives it)."""
    if created_at is None:
        return None
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    return int(created_at.timestamp() * 1000)


class Unpublishable(Exception):
    """The broker will never accept this one message (too large, invalid); others may go."""


class Publisher(Protocol):
    """Something that durably publishes messages (Kafka in production, a list in unit tests).

    publish() raises Unpublishable for a message refused before it leaves; flush() waits for
    the acknowledgements and returns {position: reason} for the messages the broker refused
    for good (positions in publish order since the last flush, counting only messages
    publish() took), or raises when any failed for another reason (nothing is lost: the
    caller sends them all again). A publisher whose flush returns None refused nothing.
    """

    def publish(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]],
                timestamp_ms: int | None = None) -> None: ...

    def flush(self) -> dict[int, str] | None: ...


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
        self._cluster_id: str | None = None

    def cluster_id(self) -> str | None:
        """The broker's cluster id as last seen, also through a producer since thrown away
        (services/common/redelivery.py)."""
        if self._producer is not None:
            try:
                self._cluster_id = kafka.cluster_id(self._producer) or self._cluster_id
            except AttributeError:  # a stand-in producer (unit tests) knows no cluster
                pass
        return self._cluster_id

    def _client(self):
        if self._producer is None:
            self._producer = self._factory()
        return self._producer

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        try:
            future = self._client().send(topic, key=key.encode(), value=value, headers=headers,
                                         timestamp_ms=timestamp_ms)
        except RECORD_ERRORS as exc:  # kafka-python checks max_request_size before sending
            raise Unpublishable(f"{type(exc).__name__}: {exc}") from exc
        self._pending.append(future)

    def flush(self) -> dict[int, str]:
        pending, self._pending = self._pending, []
        refused = {}
        try:
            for position, future in enumerate(pending):
                try:
                    future.get(timeout=self._timeout)
                except RECORD_ERRORS as exc:
                    refused[position] = type(exc).__name__
        except Exception:
            self.discard()
            raise
        return refused

    def discard(self) -> None:
        """Throw the producer away with what it buffers (when made by a factory): the next
        publish makes a new one. After a broker restart an idempotent producer's id and
        sequence numbers mean nothing to the new broker, which may give the same id to
        another producer; the old one would only fail or get in its way."""
        if self._factory is not None and self._producer is not None:
            self.cluster_id()  # it may have seen a restarted broker: keep what it saw
            self._producer.close(timeout=0)
            self._producer = None


class OutboxRelay:
    """Publish pending outbox rows in order and mark them sent.

    On PostgreSQL any number of relays may share one outbox: each claims the rows it publishes
    (SELECT ... FOR UPDATE SKIP LOCKED) and holds them until their sent_at is written in the
    same transaction, so a row is published by one relay only (once, unless a relay dies
    between the broker's acknowledgement and that commit; consumers are idempotent). Rows of
    one key (the patient) still go out in order: a relay publishes a row it claimed only when
    no earlier pending row of the same key is held by another relay (it leaves it for later).
    A relay waits for the NOTIFY that enqueue() sends rather than polling, reading the outbox
    anyway every WAKE_SECONDS in case one was missed.

    On SQLite one relay per database: the rows are read, published and then marked, without
    a claim (SQLite has no row locks); its relay polls every POLL_SECONDS, reading the outbox
    only when the file changed (services.common.db.ChangeProbe), and every BUSY_POLL_SECONDS
    for BUSY_SECONDS after it last sent something (a request/reply flow's next event is near).

    Either way a commit on the relay's own engine that enqueued (a consumer of the same worker
    process reacting to an event) wakes it at once, without waiting for the poll or the NOTIFY.
    """

    def __init__(self, engine: Engine, outbox: sa.Table, publisher: Publisher,
                 batch: int = 200, poll_seconds: float = 0.05, probe_floor: float = 1.0,
                 retention: timedelta | None = timedelta(days=7), prune_every: float = 3600.0,
                 on_publish_error=None, wake_seconds: float = 1.0, busy_poll_seconds: float = 0.005,
                 busy_seconds: float = 10.0, redelivery=None):
        self.engine, self.outbox, self.publisher = engine, outbox, publisher
        # A services.common.redelivery.Redelivery: sends again what a broker lost restarting.
        self.redelivery = redelivery
        self.busy_poll_seconds, self.busy_seconds = busy_poll_seconds, busy_seconds
        self._last_sent = float("-inf")
        #: Set by a commit in this process that enqueued (see _committed).
        self.woken = threading.Event()
        # Told how many publish errors happened (services/common/machines.py counts them).
        self.on_publish_error = on_publish_error or (lambda count: None)
        self.batch, self.poll_seconds, self.probe_floor = batch, poll_seconds, probe_floor
        self.wake_seconds = wake_seconds
        # Sent rows are kept RETENTION (None: for ever) for whoever investigates a delivery,
        # then deleted, so the outbox does not grow with every event the service ever sent.
        self.retention, self.prune_every = retention, prune_every
        self._next_prune = 0.0
        #: Rows the last run_once claimed but left to another relay (an earlier row of their key).
        self.held_back = 0

    @property
    def claims(self) -> bool:
        """Whether this relay claims its rows (PostgreSQL), so that several may run at once."""
        return self.engine.dialect.name == "postgresql"

    def _pending(self):
        o = self.outbox
        return (sa.select(o.c.seq, o.c.event_id, o.c.topic, o.c.key, o.c.payload,
                          o.c.traceparent, o.c.created_at)
                .where(o.c.sent_at.is_(None), o.c.parked_at.is_(None))
                .order_by(o.c.seq).limit(self.batch))

    def run_once(self) -> int:
        """Publish one batch, park what the broker refuses for good; return how many rows were sent.

        A parked row (``parked_at`` set) is never sent again; the rest of the batch goes on,
        so one unpublishable event cannot hold back every event after it.
        """
        if self.redelivery is not None:  # outside any claim: it updates rows others may hold
            self.redelivery.check(self.engine, self.outbox)
        sent = self._run_claimed() if self.claims else self._run_unclaimed()
        if sent and self.redelivery is not None:
            self.redelivery.sent(self.engine, self.outbox)
        return sent

    def _run_unclaimed(self) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(self._pending()).all()
        if not rows:
            return 0
        sent, refused = self._send(rows)
        with transaction(self.engine) as conn:
            self._mark(conn, sent, refused)
        self._report(refused)
        return len(sent)

    def _run_claimed(self) -> int:
        # The claim, the publishing and the marking are one transaction: the row locks keep
        # other relays off these rows until they are marked sent (or, on an error, until the
        # rollback gives them back). Claims follow seq order, so whatever another relay holds
        # ahead of a row was claimed earlier; SKIP LOCKED lets the relays share the work.
        refused: dict = {}
        with transaction(self.engine) as conn:
            rows = conn.execute(self._pending().with_for_update(skip_locked=True)).all()
            ready = self._in_key_order(conn, rows)
            self.held_back = len(rows) - len(ready)
            if not ready:
                return 0
            sent, refused = self._send(ready)
            self._mark(conn, sent, refused)
        self._report(refused)
        return len(sent)

    def _in_key_order(self, conn: sa.Connection, rows) -> list:
        """The claimed ROWS no pending row of the same key comes before, other than ours."""
        if not rows:
            return []
        o = self.outbox
        earliest = dict(conn.execute(
            sa.select(o.c.key, sa.func.min(o.c.seq))
            .where(o.c.sent_at.is_(None), o.c.parked_at.is_(None),
                   o.c.key.in_(sorted({row.key for row in rows})),
                   o.c.seq.not_in([row.seq for row in rows]))
            .group_by(o.c.key)).all())
        return [row for row in rows if row.key not in earliest or row.seq < earliest[row.key]]

    def _send(self, rows) -> tuple[list, dict]:
        """Publish ROWS; return (rows acknowledged, {seq: (row, reason)} refused for good)."""
        sent, refused = self._publish(rows)
        if refused and len(rows) > 1:
            # A broker refuses a whole produce request for one record in it: park a row only
            # when it is refused on its own.
            for row, _reason in list(refused.values()):
                alone, _ = self._publish([row])
                if alone:
                    sent.extend(alone)
                    del refused[row.seq]
        return sent, refused

    def _publish(self, rows) -> tuple[list, dict]:
        """Publish ROWS and wait; return (rows acknowledged, {seq: (row, reason)} refused for good)."""
        try:
            return self._publish_rows(rows)
        except Exception:
            self.on_publish_error(1)
            raise

    def _publish_rows(self, rows) -> tuple[list, dict]:
        taken, refused = [], {}
        for row in rows:
            headers = [("content-type", b"application/cloudevents+json")]
            if row.traceparent:
                headers.append(("traceparent", row.traceparent.encode()))
            try:
                self.publisher.publish(row.topic, row.key, row.payload.encode(), headers,
                                       timestamp_ms=_millis(row.created_at))
            except Unpublishable as exc:
                refused[row.seq] = (row, str(exc))
                continue
            taken.append(row)
        by_broker = self.publisher.flush() or {}  # only acknowledged messages count as sent
        for position, reason in by_broker.items():
            refused[taken[position].seq] = (taken[position], reason)
        return [row for position, row in enumerate(taken) if position not in by_broker], refused

    def _mark(self, conn: sa.Connection, sent: list, refused: dict) -> None:
        o, now = self.outbox, datetime.now(timezone.utc)
        if sent:
            conn.execute(o.update().where(o.c.seq.in_([r.seq for r in sent])).values(sent_at=now))
        for seq, (_row, reason) in refused.items():
            conn.execute(o.update().where(o.c.seq == seq).values(parked_at=now, parked_reason=reason[:200]))

    def _report(self, refused: dict) -> None:
        if refused:
            self.on_publish_error(len(refused))
        for row, reason in refused.values():
            # No payload in the log: it may hold health data. The row keeps it for an operator.
            log.error("parked outbox event %s (type %s, topic %s, %d bytes) the broker will not take: %s",
                      row.event_id, _event_type(row.payload), row.topic, len(row.payload.encode()),
                      reason[:200])

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

        Between reads it waits for a sign that something was committed: a NOTIFY on PostgreSQL
        (or WAKE_SECONDS passing), on SQLite a ChangeProbe looked at every POLL_SECONDS (and
        yes at least once a second).
        """
        sa.event.listen(self.engine, "commit", self._committed)
        sa.event.listen(self.engine, "rollback", self._rolled_back)
        sa.event.listen(self.engine, "checkin", self._checked_in)
        if self.claims:
            waker = Notifications(self.engine, wake_channel(self.outbox))
            try:
                waker.listen()  # before the first read, so nothing committed after it is missed
            except Exception as exc:  # noqa: BLE001 - the database away: the waits retry
                log.warning("not listening on %s yet: %s", waker.channel, exc)

            def wait() -> None:
                # The NOTIFY comes to this process too; woken spares the round trip through the server.
                if not self.woken.is_set():
                    waker.wait(self.wake_seconds, stop)
                self.woken.clear()
            close = waker.close
        else:
            probe = ChangeProbe(self.engine, self.probe_floor)

            def wait() -> None:
                while not stop.is_set():
                    busy = time.monotonic() - self._last_sent < self.busy_seconds
                    if self.woken.wait(self.busy_poll_seconds if busy else self.poll_seconds):
                        break
                    if probe.changed():
                        break
                self.woken.clear()
            close = probe.close
        try:
            self._relay(stop, wait)
        finally:
            sa.event.remove(self.engine, "commit", self._committed)
            sa.event.remove(self.engine, "rollback", self._rolled_back)
            sa.event.remove(self.engine, "checkin", self._checked_in)
            close()

    def _committed(self, conn: sa.Connection) -> None:
        """SQLAlchemy's commit event on the relay's engine: wake the relay if it enqueued.

        The event comes before the database commits, so a relay woken here could read the
        outbox before the rows are there and then wait a whole poll: the rows are only marked
        here, and the relay is woken once the connection is back in the pool (_checked_in).
        """
        info = connection_info(conn)
        if info.pop(_ENQUEUED, False):
            info[_COMMITTED] = True

    def _checked_in(self, dbapi_connection, record) -> None:
        """The pool's checkin event: the connection's transactions are over; wake if one enqueued."""
        if record is not None and record.info.pop(_COMMITTED, False):
            self.woken.set()

    def _rolled_back(self, conn: sa.Connection) -> None:
        connection_info(conn).pop(_ENQUEUED, None)  # its rows are gone: nothing to wake a relay for

    def _relay(self, stop: threading.Event, wait) -> None:
        backoff = 0.0
        while not stop.is_set():
            self._maybe_prune()
            try:
                sent = self.run_once()
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay paused: %s", exc)
                backoff = min(max(backoff * 2, 0.2), 5.0)
                stop.wait(backoff)
                continue
            backoff = 0.0
            if sent:
                log.debug("relayed %d events", sent)
                self._last_sent = time.monotonic()
                continue
            if self.held_back:
                # Rows behind an earlier one another relay is publishing: look again soon.
                stop.wait(max(self.poll_seconds, 0.05))
                continue
            wait()


def _event_type(payload: str) -> str:
    try:
        return str(json.loads(payload).get("type"))[:100]
    except (ValueError, AttributeError):
        return "unknown"


class ParkedEvents:
    """Prometheus collector of ``outbox_parked_events{service,topic}``, counted in the outbox.

    Read from the table at scrape time: the relay runs in the worker process, which serves
    no /metrics, and the count must survive restarts until an operator deals with the rows.
    """

    def __init__(self, engine: Engine, outbox: sa.Table, service: str):
        self.engine, self.outbox, self.service = engine, outbox, service

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("outbox_parked_events",
                                 "Outbox events the broker refused for good, parked unsent",
                                 labels=["service", "topic"])

    def describe(self):
        yield self._family()

    def collect(self):
        o, family = self.outbox, self._family()
        try:
            with self.engine.connect() as conn:
                counts = conn.execute(sa.select(o.c.topic, sa.func.count())
                                      .where(o.c.parked_at.is_not(None)).group_by(o.c.topic)).all()
        except Exception as exc:  # a scrape reports what it can; readiness reports the database
            log.warning("parked outbox events not counted: %s", exc)
            counts = []
        for topic, count in counts:
            family.add_metric([self.service, topic], count)
        yield family
