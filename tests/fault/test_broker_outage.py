"""A broker outage loses nothing: events wait in the outbox and go out when the broker returns."""
import json
import time
import uuid

import pytest
import sqlalchemy as sa

from services.common import envelope, kafka
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, enqueue
from services.records import MIGRATIONS_DIR
from services.records.adapters.tables import outbox
from tests.support.broker import Broker


@pytest.fixture
def own_broker():
    """A broker of this test's own, since the test stops it."""
    b = Broker().start()
    yield b
    b.stop()


def _pending(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                            .where(outbox.c.sent_at.is_(None))).scalar()


def test_events_written_while_the_broker_is_down_are_delivered_once_it_is_back(own_broker, tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    topic = "phr.records.v1"
    kafka.ensure_topics(own_broker.bootstrap, [topic])
    relay = OutboxRelay(engine, outbox, KafkaPublisher(lambda: kafka.producer(
        own_broker.bootstrap, request_timeout_ms=3000, max_block_ms=3000), timeout=5))

    own_broker.stop()
    patient = f"p-{uuid.uuid4().hex[:8]}"
    with transaction(engine) as conn:  # the service keeps working: the change commits locally
        enqueue(conn, outbox, topic, envelope.new_event("phr.records.imported", "/services/records",
                                                        patient, {"patient": patient}))
    with pytest.raises(Exception):
        relay.run_once()
    assert _pending(engine) == 1, "an unacknowledged event must stay in the outbox"

    own_broker.start()  # memory storage: the broker comes back empty, as after a crash
    kafka.ensure_topics(own_broker.bootstrap, [topic])
    deadline, sent = time.monotonic() + 60, 0
    while not sent and time.monotonic() < deadline:
        try:
            sent = relay.run_once()
        except Exception:
            time.sleep(0.5)
    assert sent == 1 and _pending(engine) == 0

    reader = kafka.consumer(own_broker.bootstrap, f"fault-{uuid.uuid4().hex[:6]}", [topic])
    got, deadline = [], time.monotonic() + 30
    try:
        while not got and time.monotonic() < deadline:
            for messages in reader.poll(timeout_ms=300).values():
                got += [json.loads(m.value)["subject"] for m in messages]
    finally:
        reader.close()
    assert got == [patient]
    engine.dispose()
