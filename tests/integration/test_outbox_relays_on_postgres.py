"""Several outbox relays on one PostgreSQL database and the real broker: each row is published
once and a patient's events in order; a NOTIFY wakes a relay; consumers forget old events."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.common import envelope, kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, enqueue
from services.common.worker import ConsumerSpec, Worker
from services.consent import MIGRATIONS_DIR as CONSENT_MIGRATIONS
from services.consent.adapters.tables import outbox as consent_outbox
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.tables import outbox, processed_events


@pytest.fixture
def pg_exchange_db(request):
    """The exchange's tables in a fresh PostgreSQL database (claims need row locks: no SQLite)."""
    from tests.support.databases import postgres_available
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    databases = request.getfixturevalue("postgres_databases")
    url = databases.take()
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    databases.drop(url)


@pytest.fixture
def exchange_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def topic(broker):
    name = f"phr.it.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [name])
    return name


def _event(patient: str, n: int) -> dict:
    return envelope.new_event("phr.test.happened", "/tests", patient, {"n": n})


def _read(bootstrap: str, topic: str, want: int, timeout: float = 30, settle: float = 1.0) -> list:
    """Messages on TOPIC once WANT came (and SETTLE more seconds, for any extra copy)."""
    consumer = kafka.consumer(bootstrap, f"reader-{uuid.uuid4().hex[:6]}", [topic])
    found, deadline, extra = [], time.monotonic() + timeout, None
    try:
        while time.monotonic() < (extra or deadline):
            for messages in consumer.poll(timeout_ms=200).values():
                found.extend(messages)
            if extra is None and len(found) >= want:
                extra = time.monotonic() + settle
    finally:
        consumer.close()
    return found


class GatedPublisher(KafkaPublisher):
    """Waits at flush until the test opens GATE, after saying it got there."""

    def __init__(self, producer):
        super().__init__(producer)
        self.flushing, self.gate = threading.Event(), threading.Event()

    def flush(self):
        self.flushing.set()
        assert self.gate.wait(30)
        return super().flush()


@pytest.mark.postgres
def test_a_second_relay_skips_the_claimed_rows_and_a_patient_s_later_row_waits(broker, pg_exchange_db, topic):
    with transaction(pg_exchange_db) as conn:
        for patient, n in [("p-1", 1), ("p-2", 1), ("p-1", 2), ("p-3", 1)]:
            enqueue(conn, outbox, topic, _event(patient, n))
    producer = kafka.producer(broker.bootstrap)
    gated = GatedPublisher(producer)
    first = OutboxRelay(pg_exchange_db, outbox, gated, batch=2)  # claims p-1 #1 and p-2 #1
    held = threading.Thread(target=first.run_once)
    held.start()
    try:
        assert gated.flushing.wait(30)
        second = OutboxRelay(pg_exchange_db, outbox, KafkaPublisher(producer))
        # p-1 #2 must not overtake p-1 #1, which the first relay holds unsent: only p-3 goes.
        assert second.run_once() == 1 and second.held_back == 1
    finally:
        gated.gate.set()
        held.join(timeout=30)
    assert second.run_once() == 1  # p-1 #2, now that #1 is sent
    assert second.run_once() == 0 and second.held_back == 0
    messages = _read(broker.bootstrap, topic, 4)
    published = [(m.key.decode(), envelope.parse(m.value)["data"]["n"]) for m in messages]
    assert sorted(published) == [("p-1", 1), ("p-1", 2), ("p-2", 1), ("p-3", 1)]
    assert [n for key, n in published if key == "p-1"] == [1, 2]
    assert _unsent(pg_exchange_db) == 0


@pytest.mark.postgres
def test_two_running_relays_publish_each_row_once_and_each_patient_s_rows_in_order(broker, pg_exchange_db, topic):
    patients, per_patient = [f"p-{i}" for i in range(8)], 25
    stop = threading.Event()
    counts = Counter()

    class Counting(KafkaPublisher):
        def __init__(self, name):
            super().__init__(kafka.producer(broker.bootstrap))
            self.name = name

        def publish(self, *args, **kwargs):
            counts[self.name] += 1
            return super().publish(*args, **kwargs)

    relays = [OutboxRelay(pg_exchange_db, outbox, Counting(name), batch=7, wake_seconds=0.5)
              for name in ("a", "b")]
    threads = [threading.Thread(target=r.run_forever, args=(stop,)) for r in relays]
    for t in threads:
        t.start()
    try:
        for n in range(per_patient):  # enqueued while both relays run, a few rows per commit
            with transaction(pg_exchange_db) as conn:
                for patient in patients:
                    enqueue(conn, outbox, topic, _event(patient, n))
        want = len(patients) * per_patient
        messages = _read(broker.bootstrap, topic, want, settle=2.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    ids = Counter(envelope.parse(m.value)["id"] for m in messages)
    assert len(ids) == want and set(ids.values()) == {1}, "every row published exactly once"
    assert sum(counts.values()) == want and counts["a"] and counts["b"], counts
    order = defaultdict(list)
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        order[m.key.decode()].append(envelope.parse(m.value)["data"]["n"])
    assert order == {patient: list(range(per_patient)) for patient in patients}


@pytest.mark.postgres
def test_two_worker_processes_of_a_service_publish_each_event_once(broker, postgres_databases, topic, tmp_path):
    # The workers as the Procfile runs them, on one database: what a second replica does.
    from tests.support.databases import postgres_available
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    url = postgres_databases.take()
    migrate(url, CONSENT_MIGRATIONS)
    engine = make_engine(url)
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    # A long fallback read: the NOTIFY of each commit is what wakes them.
    env.update(CONSENT_DATABASE_URL=url, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, PHR_VAR_DIR=str(tmp_path),
               LOG_LEVEL="WARNING", OUTBOX_WAKE_SECONDS="30")
    workers = [subprocess.Popen([sys.executable, "-m", "services.consent.entrypoints.worker"], env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker-{n}.log", "wb"))
               for n in range(2)]
    try:
        want = 0
        for n in range(20):
            with transaction(engine) as conn:
                for patient in ("p-1", "p-2", "p-3"):
                    enqueue(conn, consent_outbox, topic, _event(patient, n))
                    want += 1
        messages = _read(broker.bootstrap, topic, want, timeout=60, settle=2.0)
        assert all(w.poll() is None for w in workers), "a worker stopped"
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        engine.dispose()
        postgres_databases.drop(url)
    ids = Counter(envelope.parse(m.value)["id"] for m in messages)
    assert len(ids) == want and set(ids.values()) == {1}, (len(messages), want)
    order = defaultdict(list)
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        order[m.key.decode()].append(envelope.parse(m.value)["data"]["n"])
    assert order == {patient: list(range(20)) for patient in ("p-1", "p-2", "p-3")}


@pytest.mark.postgres
def test_a_commit_that_enqueues_wakes_a_listening_relay_long_before_its_fallback_read(broker, pg_exchange_db, topic):
    relay = OutboxRelay(pg_exchange_db, outbox, KafkaPublisher(kafka.producer(broker.bootstrap)),
                        wake_seconds=30)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,))
    thread.start()
    try:
        time.sleep(1.0)  # it has listened, found nothing and waits for 30 s or a NOTIFY
        for n in range(2):
            with transaction(pg_exchange_db) as conn:
                enqueue(conn, outbox, topic, _event("p-1", n))
            # Sent means acknowledged by the broker; 10 s is far from the 30 s fallback.
            deadline = time.monotonic() + 10
            while _unsent(pg_exchange_db) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _unsent(pg_exchange_db), "the relay slept through the NOTIFY"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(_read(broker.bootstrap, topic, 2)) == 2


def _unsent(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(outbox.c.sent_at.is_(None))).scalar()


def test_pruning_forgets_only_events_applied_before_the_retention(exchange_db):
    now = datetime.now(timezone.utc)
    with transaction(exchange_db) as conn:
        conn.execute(processed_events.insert(), [
            {"consumer": "exchange.flow", "event_id": "old-1", "processed_at": now - timedelta(days=15)},
            {"consumer": "exchange.notify", "event_id": "old-2", "processed_at": now - timedelta(days=30)},
            {"consumer": "exchange.flow", "event_id": "recent", "processed_at": now - timedelta(days=13)},
            {"consumer": "exchange.notify", "event_id": "new", "processed_at": now}])
    consumers = [IdempotentConsumer(name, exchange_db, processed_events, {}, dead_letters=None)
                 for name in ("exchange.flow", "exchange.notify")]
    worker = Worker(load_settings("exchange", environ={}), exchange_db, outbox,
                    [ConsumerSpec(c.name, ["t"], c) for c in consumers])
    assert worker.prune_processed(timedelta(days=14), now=now) == 2
    with exchange_db.connect() as conn:
        left = {r.event_id for r in conn.execute(sa.select(processed_events.c.event_id))}
    assert left == {"recent", "new"}
