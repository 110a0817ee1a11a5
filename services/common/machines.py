"""The machine measures of a service on its /metrics: consumer lag, dead letters, outbox backlog,
relay publish errors (docs/architecture.md, "Events", for the mechanisms they watch).

Each is read when Prometheus scrapes, by the service's HTTP process: the backlog from the outbox
table (like outbox.ParkedEvents), lag and dead letters from the broker (cached a few seconds, so
a scrape stays cheap), and the relay's publish errors from the files its worker counts in
(services/common/multiprocess.py). A scrape never fails: what cannot be read is left out and
logged, and readiness (/readyz) says which dependency is away.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.common.kafka import broker_reachable
from services.common.multiprocess import FileCounter, worker_dir

log = logging.getLogger(__name__)

RELAY_ERRORS = "phr_relay_publish_errors"
RELAY_ERRORS_HELP = "Times the outbox relay failed to publish (broker away, or an event refused)"


class OutboxBacklog:
    """``phr_outbox_pending_events{service}`` and ``phr_outbox_oldest_pending_seconds{service}``:
    events committed but not yet published (parked ones excluded: outbox_parked_events counts
    them), and how long the oldest has waited (0 when none waits)."""

    def __init__(self, engine: Engine, outbox: sa.Table, service: str, clock=None):
        self.engine, self.outbox, self.service = engine, outbox, service
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def _families(self):
        return (GaugeMetricFamily("phr_outbox_pending_events",
                                  "Events stored but not yet sent to the broker", labels=["service"]),
                GaugeMetricFamily("phr_outbox_oldest_pending_seconds",
                                  "Seconds the oldest unsent event has waited", labels=["service"]))

    def describe(self):
        yield from self._families()

    def collect(self):
        o = self.outbox
        pending, oldest = self._families()
        waiting = o.c.sent_at.is_(None) & o.c.parked_at.is_(None)
        try:
            with self.engine.connect() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(o).where(waiting)).scalar_one()
                first = conn.execute(sa.select(o.c.created_at).where(waiting)
                                     .order_by(o.c.seq).limit(1)).scalar()
        except Exception as exc:  # a scrape reports what it can; readiness reports the database
            log.warning("outbox backlog not read: %s", exc)
            return
        if first is not None and first.tzinfo is None:
            first = first.replace(tzinfo=timezone.utc)  # SQLite keeps no offset; we write UTC
        pending.add_metric([self.service], count)
        oldest.add_metric([self.service], max(0.0, (self.clock() - first).total_seconds()) if first else 0.0)
        yield pending
        yield oldest


class BrokerReading:
    """One look at the broker: lag per (group, topic), messages per dead-letter topic."""

    def __init__(self, lag: dict[tuple[str, str], int], dead: dict[str, int]):
        self.lag, self.dead = lag, dead


def read_broker(admin, groups: dict[str, list[str]], partitions: dict[str, list[int]]) -> BrokerReading:
    """Read lag of GROUPS ({group: topics}) and the depth of their topics' dead-letter topics.

    Lag is the end offset minus the group's committed offset, per partition (from the earliest
    offset when the group has committed nothing there yet), never below 0. The embedded broker
    (Tansu) reports a batch of records as one offset at the end of a partition, so there lag
    and depth are a lower bound: still above 0 whenever something waits. Kafka counts records.
    """
    topics = sorted({t for ts in groups.values() for t in ts})
    tps = [TopicPartition(t, p) for t in [*topics, *(f"{t}.dlq" for t in topics)] for p in partitions[t]]
    end = {tp: o.offset for tp, o in admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps}).items()}
    start = {tp: o.offset for tp, o in admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps}).items()}
    lag: dict[tuple[str, str], int] = {}
    for group, group_topics in groups.items():
        committed = admin.list_group_offsets({group: None}).get(group, {})
        for topic in group_topics:
            total = 0
            for p in partitions[topic]:
                tp = TopicPartition(topic, p)
                at = committed.get(tp)
                position = max(at.offset if at is not None and at.offset >= 0 else 0, start[tp])
                total += max(0, end[tp] - position)
            lag[(group, topic)] = total
    dead = {f"{t}.dlq": sum(max(0, end[tp] - start[tp]) for tp in tps if tp.topic == f"{t}.dlq") for t in topics}
    return BrokerReading(lag, dead)


class BrokerMeasures:
    """``phr_consumer_lag_messages{group,topic}`` and ``phr_dead_letter_messages{topic}`` of a
    service's consumer GROUPS ({group: topics}), read from the broker at most every TTL seconds.

    While the broker is away the families are empty (and that too is kept TTL seconds, so a
    scrape does not wait on the broker each time); Prometheus then shows the series as absent.
    """

    def __init__(self, bootstrap: str, groups: dict[str, list[str]], ttl: float = 5.0,
                 clock=time.monotonic):
        self.bootstrap, self.groups, self.ttl, self.clock = bootstrap, groups, ttl, clock
        self._lock = threading.Lock()
        self._admin = None
        self._partitions: dict[str, list[int]] = {}
        self._reading: BrokerReading | None = None
        self._read_at = float("-inf")

    def _families(self):
        return (GaugeMetricFamily("phr_consumer_lag_messages",
                                  "Messages a consumer group has not processed yet", labels=["group", "topic"]),
                GaugeMetricFamily("phr_dead_letter_messages",
                                  "Messages set aside on a dead-letter topic after failing", labels=["topic"]))

    def describe(self):
        yield from self._families()

    def collect(self):
        lag, dead = self._families()
        reading = self.reading()
        if reading is not None:
            for (group, topic), value in sorted(reading.lag.items()):
                lag.add_metric([group, topic], value)
            for topic, value in sorted(reading.dead.items()):
                dead.add_metric([topic], value)
        yield lag
        yield dead

    def reading(self) -> BrokerReading | None:
        """The last reading, refreshed when older than the TTL; None while the broker is away."""
        with self._lock:
            if self.clock() - self._read_at >= self.ttl:
                self._reading = self._read()
                self._read_at = self.clock()
            return self._reading

    def _read(self) -> BrokerReading | None:
        if not self.groups:
            return BrokerReading({}, {})
        try:
            broker_reachable(self.bootstrap)  # fail in a second, not in the client's 30 s
            if self._admin is None:
                self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="phr-measures",
                                               request_timeout_ms=3000)
            if not self._partitions:
                self._partitions = self._describe()
            return read_broker(self._admin, self.groups, self._partitions)
        except Exception as exc:  # a scrape reports what it can; readiness reports the broker
            log.warning("consumer lag and dead letters not read: %s", exc)
            self.close()
            return None

    def _describe(self) -> dict[str, list[int]]:
        topics = sorted({t for ts in self.groups.values() for t in ts})
        described = self._admin.describe_topics([*topics, *(f"{t}.dlq" for t in topics)])
        found = {d["name"]: sorted(p["partition_index"] for p in d["partitions"]) for d in described}
        missing = [t for t in topics if not found.get(t)]
        if missing:
            raise LookupError(f"topics not created yet: {', '.join(missing)}")
        return found

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001 - closing a client of a broker that is away
                pass
        self._admin, self._partitions = None, {}


class _NotCounted:
    def inc(self, amount: float = 1.0) -> None:
        pass


def relay_errors(var_dir: Path, service: str) -> FileCounter | _NotCounted:
    """The worker's counter of relay publish errors, in the files SERVICE's /metrics reads.

    A directory it cannot write costs the measure, not the worker (the relay goes on)."""
    try:
        return FileCounter(worker_dir(var_dir, service), RELAY_ERRORS, RELAY_ERRORS_HELP, {"service": service})
    except OSError as exc:
        log.warning("relay publish errors will not be counted: %s", exc)
        return _NotCounted()


def install(app, settings, engine: Engine, outbox: sa.Table, groups: dict[str, list[str]]) -> None:
    """Show the machine measures of SETTINGS.service (its consumer GROUPS: {group: topics}) on APP's /metrics."""
    registry = app.extensions["metrics_registry"]
    registry.register(OutboxBacklog(engine, outbox, settings.service))
    if groups:
        registry.register(BrokerMeasures(settings.kafka_bootstrap, groups))
    app.extensions["metrics_files"].append(worker_dir(settings.var_dir, settings.service))
