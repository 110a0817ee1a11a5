"""A malformed phr.records.fetch request is dead-lettered after bounded retries; the worker goes on."""
import json
import uuid

import sqlalchemy as sa

from services.common import envelope
from services.common.config import load_settings
from services.common.db import make_engine, migrate
from services.records import MIGRATIONS_DIR
from services.records.adapters.tables import claim_checks, outbox
from services.records.bootstrap import bootstrap
from services.records.entrypoints.worker import fetch_consumer


class Letters:
    def __init__(self):
        self.sent = []

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        self.sent.append((topic, value, dict(headers)))

    def flush(self):
        pass


def _records(database_url, tmp_path):
    migrate(database_url, MIGRATIONS_DIR)
    settings = load_settings("records", {"PHR_VAR_DIR": str(tmp_path)}, database_url=database_url,
                             testing=True, contract_checks="enforce")
    return bootstrap(settings, make_engine(database_url))


def _request(**data):
    body = {"request_id": f"r-{uuid.uuid4().hex[:8]}", "patient": "nobody", "resource_types": [],
            "redact_labels": [], "requester": "cardiology", **data}
    return json.dumps(envelope.new_event("phr.records.fetch", "/services/exchange", "nobody", body)).encode()


def test_a_fetch_request_without_a_patient_goes_to_the_dead_letter_topic_and_the_next_one_is_answered(
        database_url, tmp_path):
    records = _records(database_url, tmp_path)
    letters = Letters()
    consumer = fetch_consumer(records, letters)
    consumer.wait = lambda *_: 0
    broken = json.loads(_request())
    del broken["data"]["patient"]
    assert consumer.handle("phr.records.fetch.v1", json.dumps(broken).encode()) == "dead-lettered"
    assert letters.sent[0][0] == "phr.records.fetch.v1.dlq" and "KeyError" in letters.sent[0][2]["dlq-reason"].decode()
    assert consumer.handle("phr.records.fetch.v1", _request()) == "applied"
    with records.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claim_checks)).scalar() == 1
        reply = json.loads(conn.execute(sa.select(outbox.c.payload)).scalar())
    assert reply["type"] == "phr.records.fetched" and reply["data"]["resource_count"] == 0
    records.engine.dispose()


def test_the_same_fetch_event_delivered_twice_is_applied_once(database_url, tmp_path):
    records = _records(database_url, tmp_path)
    consumer = fetch_consumer(records, Letters())
    message = _request()
    assert consumer.handle("phr.records.fetch.v1", message) == "applied"
    assert consumer.handle("phr.records.fetch.v1", message) == "duplicate"
    with records.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 1
    records.engine.dispose()
