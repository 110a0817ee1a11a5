"""A broker killed and started empty loses no event: relays send again, consumers apply once."""
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from contracts.events import PARTITIONS
from services.common import envelope, kafka
from services.common.consumer import IdempotentConsumer
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, enqueue
from services.common.redelivery import BrokerWatch, Checkpoint, KafkaOffsets, Redelivery
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.tables import outbox, processed_events
from tests.support.broker import Broker

applied = sa.Table("test_applied", sa.MetaData(), sa.Column("consumer", sa.String(50)),
                   sa.Column("n", sa.Integer))


@pytest.fixture
def own_broker():
    b = Broker().start()
    yield b
    b.stop()


@pytest.fixture
def db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    applied.metadata.create_all(engine)
    yield engine
    engine.dispose()


class Group:
    """One consumer group in a thread, applying each event by adding a row (duplicates would show)."""

    def __init__(self, name, engine, bootstrap, topic):
        self.name, self.engine, self.bootstrap, self.topic = name, engine, bootstrap, topic
        self.group = f"{name}-{uuid.uuid4().hex[:6]}"

        def apply(conn, event):
            conn.execute(applied.insert().values(consumer=name, n=event["data"]["n"]))
        self.consumer = IdempotentConsumer(name, engine, processed_events, {"phr.test.happened": apply},
                                           KafkaPublisher(kafka.producer(bootstrap)))
        self.thread = None

    def start(self):
        self.stop_event = threading.Event()
        client = kafka.consumer(self.bootstrap, self.group, [self.topic])

        def run():
            try:
                self.consumer.run(client, self.stop_event,
                                  broker_watch=BrokerWatch(lambda: kafka.cluster_id(client)))
            finally:
                client.close()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(timeout=20)
            self.thread = None

    def numbers(self):
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.select(applied.c.n).where(applied.c.consumer == self.name)).scalars())


def _enqueue(engine, topic, numbers):
    with transaction(engine) as conn:
        for n in numbers:
            enqueue(conn, outbox, topic, envelope.new_event("phr.test.happened", "/tests", f"p-{n % 7}", {"n": n}))


def _wait(condition, timeout=60.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _pending(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar()


def test_events_a_killed_broker_held_are_sent_again_and_applied_once_by_every_group(own_broker, db):
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    bootstrap = own_broker.bootstrap
    kafka.ensure_topics(bootstrap, [topic])
    publisher = KafkaPublisher(lambda: kafka.producer(bootstrap, request_timeout_ms=3000, max_block_ms=3000),
                               timeout=5)
    checkpoint = Checkpoint(KafkaOffsets(bootstrap, PARTITIONS), [topic], every_seconds=0.5)
    relay = OutboxRelay(db, outbox, publisher, redelivery=Redelivery(
        publisher.cluster_id, lambda: kafka.ensure_topics(bootstrap, [topic], timeout=5), checkpoint,
        publisher.discard))
    running, paused = Group("running", db, bootstrap, topic).start(), Group("paused", db, bootstrap, topic).start()
    stop_relay = threading.Event()
    relay_thread = threading.Thread(target=relay.run_forever, args=(stop_relay,), daemon=True)
    relay_thread.start()
    try:
        # Events trickle in until both groups have confirmed a checkpoint.
        n = 0
        while checkpoint.seq == 0:
            _enqueue(db, topic, [n])
            n += 1
            assert n < 200, "no checkpoint was confirmed"
            time.sleep(0.3)
        _wait(lambda: running.numbers() == list(range(n)) and paused.numbers() == list(range(n)),
              what="both groups to apply the first events")

        # One group falls behind; the broker acknowledges events that group never reads.
        paused.stop()
        _enqueue(db, topic, range(n, n + 10))
        _wait(lambda: _pending(db) == 0 and running.numbers() == list(range(n + 10)), what="the relay")
        own_broker.proc.kill()  # as a crash: everything it held is gone
        own_broker.proc.wait()
        own_broker.start()  # empty, with a new cluster id and no topics
        _enqueue(db, topic, range(n + 10, n + 15))
        paused.start()

        everything = list(range(n + 15))
        _wait(lambda: running.numbers() == everything and paused.numbers() == everything, timeout=90,
              what=f"every event applied once by each group (running {running.numbers()}, "
                   f"paused {paused.numbers()})")
        time.sleep(2)  # anything sent twice has had time to arrive, and is a duplicate
        assert running.numbers() == everything and paused.numbers() == everything
    finally:
        stop_relay.set()
        relay_thread.join(timeout=20)
        running.stop()
        paused.stop()
