"""Outbox relay, idempotent consumer and dead-letter topic on the real embedded broker."""
import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.common import envelope, kafka
from services.common.consumer import IdempotentConsumer
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, enqueue
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.tables import outbox, patient_index, processed_events
from services.exchange.service_layer.handlers import HANDLERS
from tests.support.broker import Broker


@pytest.fixture
def exchange_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _read_all(bootstrap, topic, want, timeout=30):
    consumer = kafka.consumer(bootstrap, f"reader-{uuid.uuid4().hex[:6]}", [topic])
    found, deadline = [], time.monotonic() + timeout
    try:
        while len(found) < want and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                found.extend(messages)
    finally:
        consumer.close()
    return found


def _imported(patient, count=3):
    return envelope.new_event("phr.records.imported", "/services/records", patient, {
        "patient": patient, "custodian": "primary-care", "resource_count": count,
        "resource_types": {"Observation": count}, "imported_at": "2026-01-01T00:00:00+00:00"})


def test_relayed_events_reach_the_broker_keyed_by_patient_with_a_traceparent(broker, exchange_db):
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic])
    with transaction(exchange_db) as conn:
        enqueue(conn, outbox, topic, _imported("p-1"))
        enqueue(conn, outbox, topic, _imported("p-2"))
    relay = OutboxRelay(exchange_db, outbox, KafkaPublisher(kafka.producer(broker.bootstrap)))
    assert relay.run_once() == 2
    messages = _read_all(broker.bootstrap, topic, 2)
    assert sorted(m.key for m in messages) == [b"p-1", b"p-2"]
    assert all(dict(m.headers).get("traceparent") for m in messages)
    assert {envelope.parse(m.value)["type"] for m in messages} == {"phr.records.imported"}


def test_sent_rows_past_the_retention_are_pruned_and_pending_ones_never(broker, exchange_db):
    with transaction(exchange_db) as conn:
        enqueue(conn, outbox, "phr.exchange.v1", _imported("p-old"))
    relay = OutboxRelay(exchange_db, outbox, KafkaPublisher(kafka.producer(broker.bootstrap)),
                        retention=timedelta(days=7))
    assert relay.run_once() == 1
    with transaction(exchange_db) as conn:
        enqueue(conn, outbox, "phr.exchange.v1", _imported("p-pending"))
    later = datetime.now(timezone.utc) + timedelta(days=8)
    assert relay.prune(later) == 1
    with exchange_db.connect() as conn:
        assert [r.key for r in conn.execute(sa.select(outbox.c.key))] == ["p-pending"]


def test_the_exchange_consumer_indexes_each_patient_once_even_when_a_message_is_redelivered(broker, exchange_db):
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic])
    producer = kafka.producer(broker.bootstrap)
    event = _imported("p-9", 4)
    for _ in range(2):  # at-least-once delivery: the same event twice
        producer.send(topic, key=b"p-9", value=json.dumps(event).encode()).get(timeout=10)
    consumer = IdempotentConsumer("it", exchange_db, processed_events, HANDLERS,
                                  KafkaPublisher(producer))
    stop = threading.Event()
    client = kafka.consumer(broker.bootstrap, f"it-{uuid.uuid4().hex[:6]}", [topic])
    thread = threading.Thread(target=consumer.run, args=(client, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with exchange_db.connect() as conn:
                if conn.execute(sa.select(processed_events)).first():
                    break
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(timeout=10)
        client.close()
    with exchange_db.connect() as conn:
        rows = conn.execute(sa.select(patient_index)).all()
    assert [(r.patient_id, r.resource_count) for r in rows] == [("p-9", 4)]


def test_a_poison_message_lands_on_the_dead_letter_topic(broker, exchange_db):
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic, f"{topic}.dlq"])
    publisher = KafkaPublisher(kafka.producer(broker.bootstrap))
    bad = envelope.new_event("phr.records.imported", "/services/records", "p", {"no": "patient"})
    consumer = IdempotentConsumer("it", exchange_db, processed_events, HANDLERS, publisher,
                                  wait=lambda *_: 0)
    assert consumer.handle(topic, json.dumps(bad).encode(), []) == "dead-lettered"
    dead = _read_all(broker.bootstrap, f"{topic}.dlq", 1)
    assert len(dead) == 1 and b"KeyError" in dict(dead[0].headers)["dlq-reason"]


def test_a_running_consumer_s_fetch_wait_can_be_shortened_and_lengthened(broker):
    # The pacer of the exchange flow relies on kafka-python reading the wait for each fetch
    # it builds: the broker then holds an empty fetch for about the new wait.
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic])
    client = kafka.consumer(broker.bootstrap, f"wait-{uuid.uuid4().hex[:6]}", [topic],
                            fetch_max_wait_ms=1000, metrics_sample_window_ms=1000)

    def fetch_latency_after(seconds: float) -> float:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            client.poll(timeout_ms=100)
        return client.metrics()["consumer-fetch-manager-metrics"]["fetch-latency-avg"]

    try:
        deadline = time.monotonic() + 30
        while not client.assignment() and time.monotonic() < deadline:
            client.poll(timeout_ms=100)
        assert fetch_latency_after(3) > 500
        kafka.set_fetch_wait(client, 20)
        assert fetch_latency_after(2.5) < 250
        kafka.set_fetch_wait(client, 1000)
        assert fetch_latency_after(3) > 500
    finally:
        client.close()


def test_producers_and_consumers_tell_the_cluster_id_of_a_broker_started_again():
    # The relays and consumers notice an empty broker by its new cluster id
    # (services/common/redelivery.py); kafka.cluster_id reads it from kafka-python's metadata.
    own = Broker().start()
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"
    producer = kafka.producer(own.bootstrap)
    client = None
    try:
        kafka.ensure_topics(own.bootstrap, [topic])
        producer.send(topic, key=b"k", value=b"v").get(timeout=10)
        client = kafka.consumer(own.bootstrap, f"cid-{uuid.uuid4().hex[:6]}", [topic])
        client.poll(timeout_ms=500)
        first = kafka.cluster_id(producer)
        assert first and kafka.cluster_id(client) == first
        own.stop()
        own.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and first in (kafka.cluster_id(producer), kafka.cluster_id(client)):
            client.poll(timeout_ms=200)
            time.sleep(0.1)
        assert kafka.cluster_id(client) not in (None, first)
        assert kafka.cluster_id(producer) not in (None, first)
    finally:
        if client is not None:
            client.close()
        producer.close(timeout=0)
        own.stop()
