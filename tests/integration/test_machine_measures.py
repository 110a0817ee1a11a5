"""The machine measures (services/common/machines.py) read from the real broker and a real
outbox at scrape time: lag, dead letters, backlog, relay publish errors, decision latency."""
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from services.common import kafka, machines
from services.common.db import make_engine
from services.common.envelope import new_event
from services.common.multiprocess import Exposition, worker_dir
from services.common.outbox import OutboxRelay, enqueue, messaging_tables
from tests.support.broker import free_port
from tests.support.consent import department, grant, patient
from tests.support.metrics import value

TOPIC = "phr.machines-test.v1"


def _text(*collectors) -> str:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry).decode()


def _consume(bootstrap: str, group: str, count: int) -> None:
    """Process COUNT messages of TOPIC as GROUP and commit them."""
    client = kafka.consumer(bootstrap, group, [TOPIC])
    try:
        seen, deadline = 0, time.monotonic() + 30
        while seen < count and time.monotonic() < deadline:
            seen += sum(len(m) for m in client.poll(timeout_ms=500, max_records=count - seen).values())
        client.commit()
        assert seen == count
    finally:
        client.close()


def test_lag_is_what_a_group_has_not_committed_and_dead_letters_are_counted(broker):
    kafka.ensure_topics(broker.bootstrap, [TOPIC, f"{TOPIC}.dlq"])
    producer = kafka.producer(broker.bootstrap)
    for i in range(6):  # one at a time: the embedded broker counts a batch as one offset
        producer.send(TOPIC, key=f"p{i}".encode(), value=b"{}").get(timeout=10)
    producer.send(f"{TOPIC}.dlq", key=b"", value=b"{}").get(timeout=10)
    producer.close()
    _consume(broker.bootstrap, "machines-test-done", 6)
    measures = machines.BrokerMeasures(broker.bootstrap, {"machines-test-done": [TOPIC],
                                                          "machines-test-never": [TOPIC]}, ttl=0)
    text = _text(measures)
    assert value(text, "phr_consumer_lag_messages", group="machines-test-done", topic=TOPIC) == 0
    assert value(text, "phr_consumer_lag_messages", group="machines-test-never", topic=TOPIC) == 6
    assert value(text, "phr_dead_letter_messages", topic=f"{TOPIC}.dlq") == 1
    measures.close()


def test_a_scrape_while_the_broker_is_away_answers_at_once_without_those_measures():
    measures = machines.BrokerMeasures(f"127.0.0.1:{free_port()}", {"g": [TOPIC]}, ttl=5)
    started = time.monotonic()
    text = _text(measures)
    text_again = _text(measures)  # cached: the broker is not asked again within the TTL
    assert time.monotonic() - started < 3
    assert "# TYPE phr_consumer_lag_messages gauge" in text
    assert value(text, "phr_consumer_lag_messages") is None
    assert text_again == text


def test_the_outbox_backlog_counts_unsent_events_and_the_oldest_ones_wait(database_url):
    engine = make_engine(database_url)
    metadata = sa.MetaData()
    outbox, _ = messaging_tables(metadata)
    metadata.create_all(engine)
    now = datetime.now(timezone.utc)
    collector = machines.OutboxBacklog(engine, outbox, "consent", clock=lambda: now + timedelta(seconds=90))
    text = _text(collector)
    assert value(text, "phr_outbox_pending_events", service="consent") == 0
    assert value(text, "phr_outbox_oldest_pending_seconds", service="consent") == 0
    with engine.begin() as conn:
        for _ in range(3):
            enqueue(conn, outbox, TOPIC, new_event("phr.test.happened", "test", "pat-1", {}))
        conn.execute(outbox.update().where(outbox.c.seq == 3).values(parked_at=now))  # counted elsewhere
    text = _text(collector)
    assert value(text, "phr_outbox_pending_events", service="consent") == 2
    assert 85 <= value(text, "phr_outbox_oldest_pending_seconds", service="consent") <= 95
    engine.dispose()


class _AwayPublisher:
    def publish(self, *args, **kwargs):
        pass

    def flush(self):
        raise ConnectionError("broker away")


def test_relay_publish_errors_counted_by_a_worker_reach_the_services_metrics(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata = sa.MetaData()
    outbox, _ = messaging_tables(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        enqueue(conn, outbox, TOPIC, new_event("phr.test.happened", "test", "pat-1", {}))
    counter = machines.relay_errors(tmp_path, "records")  # what Worker.start gives its relay
    relay = OutboxRelay(engine, outbox, _AwayPublisher(), on_publish_error=counter.inc)
    for _ in range(2):
        try:
            relay.run_once()
        except ConnectionError:
            pass
    text = generate_latest(Exposition(CollectorRegistry(), [worker_dir(tmp_path, "records")])).decode()
    assert value(text, "phr_relay_publish_errors_total", service="records") == 2
    counter.close()
    engine.dispose()


def test_each_consent_decision_is_timed_on_metrics(consent, mint):
    client = consent.client
    assert grant(client, patient(mint)).status_code == 201
    question = {"patient": "pat-1", "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]}
    for _ in range(3):  # the fast path
        assert client.post("/consent/v1/decisions", json=question, headers=department(mint)).status_code == 200
    view = Client(consent.app.wsgi_app.app, Response)  # behind the fast path: the Flask view
    assert view.post("/consent/v1/decisions", json=question, headers=department(mint)).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "phr_decision_duration_seconds_count") == 4
    assert value(text, "phr_decision_duration_seconds_bucket", le="+Inf") == 4
