"""A new deployment's exchange learns the correction requests made before it listened, on the real
embedded broker with SQLite and PostgreSQL: its consumer groups start at the earliest offset the
broker holds (services/common/kafka.py), so an amendment-requested event published before the
group existed is read and kept (docs/architecture.md, "Reports")."""
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from services.common import envelope, kafka
from services.common.consumer import IdempotentConsumer
from services.common.db import make_engine, migrate
from services.common.outbox import KafkaPublisher
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.tables import correction_requests, processed_events
from services.exchange.service_layer.handlers import HANDLERS


@pytest.fixture
def exchange_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _known(engine) -> dict:
    with engine.connect() as conn:
        return {r.task: (r.patient, r.custodian) for r in conn.execute(sa.select(correction_requests))}


def test_a_new_exchange_consumer_group_reads_correction_requests_published_before_it_existed(broker, exchange_db):
    topic = f"phr.it.{uuid.uuid4().hex[:8]}"  # stands for phr.records.v1, which other tests also use
    kafka.ensure_topics(broker.bootstrap, [topic])
    producer = kafka.producer(broker.bootstrap)
    asked = envelope.new_event("phr.records.amendment-requested", "/services/records", "p-1", {
        "patient": "p-1", "custodian": "cardiology", "task": "Task/t-before", "record": "Condition/c-1",
        "requested_at": "2026-01-01T00:00:00+00:00"})
    producer.send(topic, key=b"p-1", value=json.dumps(asked).encode()).get(timeout=10)
    # only now does the exchange's group start, as on a new deployment
    consumer = IdempotentConsumer("exchange.records-index", exchange_db, processed_events, HANDLERS,
                                  KafkaPublisher(producer))
    stop = threading.Event()
    client = kafka.consumer(broker.bootstrap, f"phr-exchange-records-{uuid.uuid4().hex[:6]}", [topic])
    thread = threading.Thread(target=consumer.run, args=(client, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not _known(exchange_db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)
        client.close()
        producer.close()
    assert _known(exchange_db) == {"Task/t-before": ("p-1", "cardiology")}
