"""The consent worker keeps the service's copy of the directory from phr.directory.v1
(services/consent/entrypoints/worker.py): each event once, never an older version over a newer
one, on a real database (SQLite and PostgreSQL), and through the real broker as it runs."""
import dataclasses
import json
import time
import uuid

import sqlalchemy as sa

from services.common import kafka
from services.common.directory import MISS_SECONDS, TOPIC
from services.consent.adapters.tables import departments, outbox, processed_events
from services.consent.entrypoints.worker import DIRECTORY_GROUP, ConsentWorker, consumer_specs, directory_consumer
from tests.support.consent import department, grant, patient
from tests.support.directory import event

PHYSIOTHERAPY = {"en": "Physiotherapy", "es": "Fisioterapia"}


class Letters:
    """The dead-letter topic, in memory."""

    def __init__(self):
        self.sent = []

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        self.sent.append((topic, value))

    def flush(self):
        pass


def entry(engine, dept: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(departments).where(departments.c.id == dept)).mappings().first()
    return dict(row) if row else None


def processed(engine, ids: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(processed_events).where(
            processed_events.c.consumer == "consent.directory", processed_events.c.event_id.in_(ids))).scalar()


def asks(consent, mint, dept: str) -> int:
    """The status of DEPT's decision question about itself."""
    return consent.client.post("/consent/v1/decisions", headers=department(mint, dept, "system/Consent.r"), json={
        "patient": "pat-1", "actor": dept, "purpose": "TREAT", "classes": ["Observation"]}).status_code


def test_the_workers_consumer_keeps_each_directory_event_once_and_never_goes_back_a_version(consent, mint):
    engine, letters = consent.engine, Letters()
    consumer = directory_consumer(consent.service, letters)
    registered = event("physiotherapy", names=PHYSIOTHERAPY)
    disabled = event("physiotherapy", names=PHYSIOTHERAPY, status="disabled", version=2)
    late = event("physiotherapy", names={"en": "Old name", "es": "Nombre viejo"}, version=1)
    assert asks(consent, mint, "physiotherapy") == 401

    assert consumer.handle(TOPIC, json.dumps(registered).encode()) == "applied"
    assert json.loads(entry(engine, "physiotherapy")["names"]) == PHYSIOTHERAPY
    time.sleep(MISS_SECONDS)  # an unknown id reads the table again, at most this often
    assert asks(consent, mint, "physiotherapy") == 200
    assert grant(consent.client, patient(mint), grantee="physiotherapy").status_code == 201

    assert consumer.handle(TOPIC, json.dumps(disabled).encode()) == "applied"
    assert consumer.handle(TOPIC, json.dumps(disabled).encode()) == "duplicate"
    assert consumer.handle(TOPIC, json.dumps(registered).encode()) == "duplicate"
    assert consumer.handle(TOPIC, json.dumps(late).encode()) == "applied"  # a replay: marked seen, no change
    kept = entry(engine, "physiotherapy")
    assert (kept["status"], kept["version"], json.loads(kept["names"])) == ("disabled", 2, PHYSIOTHERAPY)
    assert processed(engine, [registered["id"], disabled["id"], late["id"]]) == 3
    assert letters.sent == []
    consent.service.directory.reload()  # as the app does within a second of the worker's change
    assert asks(consent, mint, "physiotherapy") == 401
    refused = grant(consent.client, patient(mint), grantee="physiotherapy")
    assert refused.status_code == 422 and refused.get_json()["fields"] == ["grantee"]


def test_a_directory_event_this_service_cannot_read_goes_to_the_dead_letter_topic(consent):
    letters = Letters()
    consumer = directory_consumer(consent.service, letters)
    consumer.wait = lambda *_: 0
    assert consumer.handle(TOPIC, json.dumps(event("physiotherapy", kind="billing")).encode()) == "dead-lettered"
    assert entry(consent.engine, "physiotherapy") is None
    assert [topic for topic, _value in letters.sent] == [f"{TOPIC}.dlq"]


def test_the_running_worker_learns_a_department_from_the_broker_and_then_that_it_was_disabled(consent, mint, broker):
    dept = f"dept-{uuid.uuid4().hex[:8]}"  # the topic is the session's: other tests publish on it too
    svc, engine = consent.service, consent.engine
    settings = dataclasses.replace(svc.settings, kafka_bootstrap=broker.bootstrap)
    (spec,) = consumer_specs(svc, Letters())
    assert (spec.group, spec.topics) == (DIRECTORY_GROUP, [TOPIC])
    worker = ConsentWorker(settings, engine, outbox, [spec])
    worker.consent = svc
    threads = worker.start()
    producer = kafka.producer(broker.bootstrap)
    events = [event(dept), event(dept, status="disabled", version=2), event(dept, version=1)]
    try:
        for e in events:  # keyed by department: one partition, in this order
            producer.send(TOPIC, key=dept.encode(), value=json.dumps(e).encode()).get(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and processed(engine, [e["id"] for e in events]) < 3:
            time.sleep(0.2)
    finally:
        worker.stop.set()
        for t in threads:
            t.join(timeout=10)
        producer.close()
    assert processed(engine, [e["id"] for e in events]) == 3
    kept = entry(engine, dept)
    assert (kept["status"], kept["version"]) == ("disabled", 2)
    svc.directory.reload()
    assert svc.directory.get(dept) is not None and svc.directory.active(dept) is None
    assert asks(consent, mint, dept) == 401
