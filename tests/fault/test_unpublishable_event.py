"""One event the broker will never take is parked; the relay goes on with everyone else's."""
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from services.common import envelope, kafka
from services.common.db import make_engine, migrate, transaction
from services.common.outbox import KafkaPublisher, OutboxRelay, ParkedEvents, enqueue
from services.consent import MIGRATIONS_DIR
from services.consent.adapters.tables import outbox


@pytest.fixture
def consent_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _granted(patient: str, grantee_id: str) -> dict:
    now = datetime.now(timezone.utc).isoformat()
    return envelope.new_event("phr.consent.granted", "/services/consent", patient, {
        "consent_id": str(uuid.uuid4()), "patient": patient, "version": 1,
        "grantee": {"kind": "proxy", "id": grantee_id}, "purposes": ["TREAT"], "classes": ["Observation"],
        "period": {"start": now, "end": None}, "notify": False,
        "created_by": {"kind": "patient", "id": patient}, "language": "en",
        "text_sha256": "0" * 64, "granted_at": now})


def _read(bootstrap: str, topic: str, want: int, timeout: float = 20) -> list:
    reader = kafka.consumer(bootstrap, f"fault-{uuid.uuid4().hex[:6]}", [topic])
    found, deadline = [], time.monotonic() + timeout
    try:
        while len(found) < want and time.monotonic() < deadline:
            for messages in reader.poll(timeout_ms=200).values():
                found.extend(messages)
    finally:
        reader.close()
    return found


def test_an_event_too_large_for_the_broker_is_parked_and_the_next_patient_s_event_still_goes_out(broker, consent_db):
    topic = f"phr.fault.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic])
    huge = "x" * (kafka.MAX_MESSAGE_BYTES + 1024)  # a grantee id no broker takes, as SQLite once stored
    with transaction(consent_db) as conn:
        enqueue(conn, outbox, topic, _granted("p-huge", huge))
        enqueue(conn, outbox, topic, _granted("p-next", "caregiver-1"))
    relay = OutboxRelay(consent_db, outbox, KafkaPublisher(lambda: kafka.producer(broker.bootstrap)),
                        poll_seconds=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        got = _read(broker.bootstrap, topic, 1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [m.key for m in got] == [b"p-next"]
    with consent_db.connect() as conn:
        rows = {r.key: r for r in conn.execute(sa.select(outbox))}
    assert rows["p-huge"].parked_at is not None and rows["p-huge"].sent_at is None
    assert "MessageSizeTooLarge" in rows["p-huge"].parked_reason
    assert rows["p-next"].sent_at is not None and rows["p-next"].parked_at is None
    [family] = ParkedEvents(consent_db, outbox, "consent").collect()
    assert [(s.labels["topic"], s.value) for s in family.samples] == [(topic, 1)]
