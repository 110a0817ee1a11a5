"""The worker process of a service: the outbox relay plus its Kafka consumers, until a signal."""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.events import PARTITIONS, TOPICS
from services.common import kafka, machines, redelivery, tracing
from services.common.config import Settings
from services.common.consumer import IdempotentConsumer, prune_processed
from services.common.db import ChangeProbe
from services.common.observability import configure_logging
from services.common.outbox import KafkaPublisher, OutboxRelay

log = logging.getLogger(__name__)

#: The fetch wait of a consumer group once idle (ConsumerSpec.idle_fetch_wait_ms).
IDLE_FETCH_WAIT_MS = 1000

#: How often a worker deletes the processed-event rows past their retention (processed_retention).
PRUNE_PROCESSED_EVERY_SECONDS = 3600.0


@dataclass
class ConsumerSpec:
    """One consumer group: its topics and the idempotent consumer that applies their events."""

    group: str
    topics: list[str]
    consumer: IdempotentConsumer
    # How long an empty fetch may wait at the broker while messages come. Short for
    # request/reply paths, longer (fewer polls, less CPU taken from the servers) elsewhere.
    fetch_wait_ms: int = 250
    # The wait once no message came for a while (kafka.FetchPacer): each empty fetch costs the
    # client and the embedded broker CPU, and an idle worker has several groups.
    idle_fetch_wait_ms: int | None = IDLE_FETCH_WAIT_MS

    def client(self, bootstrap: str):
        """Create this group's kafka-python consumer."""
        return kafka.consumer(bootstrap, self.group, self.topics, fetch_max_wait_ms=self.fetch_wait_ms)

    def pacer(self, client) -> kafka.FetchPacer | None:
        """Return the pacer of CLIENT's fetch waits, if this group has an idle wait."""
        if self.idle_fetch_wait_ms is None:
            return None
        return kafka.FetchPacer(client, self.fetch_wait_ms, self.idle_fetch_wait_ms)


def outbox_retention(settings: Settings) -> timedelta | None:
    """How long sent outbox rows are kept (OUTBOX_RETENTION_DAYS; 0 keeps them for ever)."""
    days = settings.outbox_retention_days
    return timedelta(days=days) if days > 0 else None


def processed_retention(settings: Settings) -> timedelta | None:
    """How long consumers remember the events they applied (PROCESSED_EVENTS_RETENTION_DAYS;
    0 for ever).

    A sent outbox row may be published again while it is kept (OUTBOX_RETENTION_DAYS: a relay
    that dies between the broker's acknowledgement and marking the row sends it again), and a
    duplicate is recognised only while its first copy is remembered; so this must be longer.
    """
    days = settings.processed_events_retention_days
    keep = timedelta(days=days) if days > 0 else None
    outbox = outbox_retention(settings)
    if keep is not None and (outbox is None or keep <= outbox):
        raise ValueError(f"PROCESSED_EVENTS_RETENTION_DAYS ({days:g}) must be longer than "
                         f"OUTBOX_RETENTION_DAYS ({settings.outbox_retention_days:g}, 0 is for ever)")
    return keep


def run_every(stop: threading.Event, seconds: float, task: Callable[[], object], name: str) -> None:
    """Call TASK every SECONDS until STOP, the first time at once.

    For housekeeping (deleting what has expired): a failure, the database away say, is logged
    as NAME and the next round tries again; it never stops the worker.
    """
    while not stop.is_set():
        started = time.monotonic()
        try:
            task()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("%s skipped: %s", name, exc)
        stop.wait(max(0.0, seconds - (time.monotonic() - started)))


#: However quiet its database, a paced thread (run_on_change) does its round at least this often.
IDLE_FLOOR_SECONDS = 2.0


def run_on_change(stop: threading.Event, every: float, task: Callable[[], object], name: str,
                  probe: ChangeProbe, at_once_when_busy: bool = False) -> None:
    """Call TASK until STOP: every EVERY seconds while the database changes, else less often.

    For a thread that looks for due work in the database (a sweeper, a delivery queue): after a
    round, it waits EVERY seconds, then asks PROBE (a services.common.db.ChangeProbe) whether
    anything was committed; if not, it waits again, and PROBE says yes at least every floor
    seconds (IDLE_FLOOR_SECONDS), which bounds how late work that merely became due (a retry
    time passing) is taken. A probe costs one PRAGMA on SQLite; on PostgreSQL it always says
    yes, so this is run_every's pace there. With AT_ONCE_WHEN_BUSY a round whose TASK returned
    something true is followed at once by the next (a queue being drained). A failure is logged
    as NAME and the next round tries again.
    """
    try:
        while not stop.is_set():
            try:
                busy = task()
            except Exception as exc:  # noqa: BLE001 - the database away: the next round tries again
                log.warning("%s paused: %s", name, exc)
                busy = False
            if busy and at_once_when_busy:
                continue
            while not stop.wait(every) and not probe.changed():
                pass
    finally:
        probe.close()


@dataclass
class Worker:
    """Threads of one worker process, stopped together."""

    settings: Settings
    engine: Engine
    outbox: sa.Table
    specs: list[ConsumerSpec] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> list[threading.Thread]:
        """Create the topics, then start the relay and one thread per consumer group."""
        remember = processed_retention(self.settings)  # a wrong setting stops the worker here
        started_on = kafka.ensure_topics(self.settings.kafka_bootstrap)
        bootstrap, client_id = self.settings.kafka_bootstrap, f"{self.settings.service}-relay"
        publisher = KafkaPublisher(lambda: kafka.producer(bootstrap, client_id=client_id))
        relay = OutboxRelay(self.engine, self.outbox, publisher,
                            poll_seconds=self.settings.outbox_poll_seconds,
                            wake_seconds=self.settings.outbox_wake_seconds,
                            retention=outbox_retention(self.settings),
                            on_publish_error=machines.relay_errors(self.settings.var_dir,
                                                                   self.settings.service).inc,
                            redelivery=self.redelivery(publisher, started_on))
        threads = [threading.Thread(target=relay.run_forever, args=(self.stop,), name="relay", daemon=True),
                   *self.extra_threads()]
        if remember is not None and self.specs:
            threads.append(threading.Thread(target=run_every, name="processed-events-pruning", daemon=True, args=(
                self.stop, PRUNE_PROCESSED_EVERY_SECONDS, lambda: self.prune_processed(remember),
                "processed-event pruning")))
        for spec in self.specs:
            client = spec.client(self.settings.kafka_bootstrap)
            threads.append(threading.Thread(target=self._consume, args=(spec, client),
                                            name=spec.group, daemon=True))
        for t in threads:
            t.start()
        log.info("%s worker running: relay + %d consumer group(s)", self.settings.service, len(self.specs))
        return threads

    def redelivery(self, publisher: KafkaPublisher, started_on: str | None) -> redelivery.Redelivery:
        """What makes the relay send again what a broker restarted empty lost (README, "When the
        embedded broker restarts"); STARTED_ON is the broker's cluster id at the worker's start."""
        bootstrap = self.settings.kafka_bootstrap
        return redelivery.Redelivery(
            publisher.cluster_id, lambda: kafka.ensure_topics(bootstrap),
            redelivery.Checkpoint(redelivery.KafkaOffsets(bootstrap, PARTITIONS), list(TOPICS)),
            reconnect=publisher.discard,
            memory=redelivery.RelayMemory(self.settings.var_dir / f"{self.settings.service}-relay.json"),
            started_on=started_on)

    def prune_processed(self, retention: timedelta, now: datetime | None = None) -> int:
        """Delete what the consumers remember of events applied longer than RETENTION ago."""
        before = (now or datetime.now(timezone.utc)) - retention
        tables = {(spec.consumer.engine, spec.consumer.processed) for spec in self.specs}
        pruned = sum(prune_processed(engine, processed, before) for engine, processed in tables)
        if pruned:
            log.info("forgot %d processed events applied more than %s ago", pruned, retention)
        return pruned

    def extra_threads(self) -> list[threading.Thread]:
        """Threads a service's worker runs besides the relay and the consumers (started by start())."""
        return []

    def _consume(self, spec: ConsumerSpec, client) -> None:
        try:
            spec.consumer.run(client, self.stop, pacer=spec.pacer(client),
                              broker_watch=redelivery.BrokerWatch(lambda: kafka.cluster_id(client)))
        except Exception:
            log.exception("consumer %s stopped on an error; stopping the worker", spec.group)
            self.stop.set()
        finally:
            client.close()

    def run(self) -> int:
        """Run until SIGINT/SIGTERM; return a process exit code."""
        # Named as the Procfile names the process, so a log line or span says which one it came from.
        name = f"{self.settings.service}-worker"
        configure_logging(self.settings.log_level, name)
        tracing.setup(name)
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        threads = self.start()
        self.stop.wait()
        for t in threads:
            t.join(timeout=10)
        log.info("%s worker stopped", self.settings.service)
        return 0
