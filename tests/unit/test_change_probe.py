"""services.common.db.ChangeProbe, and the outbox relay that waits on it."""
import threading
import time

import pytest
import sqlalchemy as sa

from services.common.db import ChangeProbe, make_engine, transaction
from services.common import envelope
from services.common.outbox import OutboxRelay, enqueue, messaging_tables
from tests.unit.test_outbox_and_consumer import ListPublisher


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    return engine


def test_the_probe_says_yes_after_another_connection_commits_and_no_while_nothing_changes(tmp_path):
    engine = _engine(tmp_path)
    probe = ChangeProbe(engine, floor=3600)
    try:
        assert probe.changed()  # the first look always reads
        assert not probe.changed()
        with transaction(engine) as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert probe.changed()
        assert not probe.changed()
    finally:
        probe.close()


def test_the_probe_says_yes_again_once_its_floor_has_passed(tmp_path):
    probe = ChangeProbe(_engine(tmp_path), floor=0.05)
    try:
        assert probe.changed() and not probe.changed()
        time.sleep(0.06)
        assert probe.changed()
    finally:
        probe.close()


def test_the_probe_always_says_yes_where_it_cannot_watch_a_file():
    probe = ChangeProbe(make_engine("sqlite://"), floor=3600)
    assert probe.changed() and probe.changed()


def test_the_probe_says_yes_when_its_database_file_cannot_be_read_and_creates_none(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'not yet' / 'x.db'}")
    (tmp_path / "not yet" / "x.db").unlink()  # make_engine creates it 0600; the file goes away
    probe = ChangeProbe(engine, floor=3600)
    assert probe.changed() and probe.changed()
    assert not (tmp_path / "not yet" / "x.db").exists()


def test_the_relay_publishes_an_event_committed_while_it_waits_without_waiting_for_the_floor(tmp_path):
    metadata = sa.MetaData()
    outbox, _ = messaging_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    metadata.create_all(engine)
    publisher, stop = ListPublisher(), threading.Event()
    relay = OutboxRelay(engine, outbox, publisher, probe_floor=3600)  # only the probe can wake it
    other_process = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")  # no in-process wake-up
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.2)  # the relay has looked once and found nothing
        with transaction(other_process) as conn:
            enqueue(conn, outbox, "phr.test.v1", envelope.new_event("phr.test.happened", "/tests", "p", {}))
        deadline = time.monotonic() + 20
        while not publisher.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(publisher.sent) == 1
    finally:
        stop.set()
        thread.join(5)


@pytest.fixture
def waiting_relay(tmp_path):
    """(engine, outbox, publisher) of a relay that polls once an hour: only a commit wakes it."""
    metadata = sa.MetaData()
    outbox, _ = messaging_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'relay.db'}")
    metadata.create_all(engine)
    publisher, stop = ListPublisher(), threading.Event()
    relay = OutboxRelay(engine, outbox, publisher, probe_floor=3600, poll_seconds=3600, busy_poll_seconds=3600)
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.2)  # the relay has looked once, found nothing, and waits an hour
    yield engine, outbox, publisher
    stop.set()
    relay.woken.set()
    thread.join(5)


def _enqueue_and_wait(engine, outbox, publisher) -> None:
    with transaction(engine) as conn:
        enqueue(conn, outbox, "phr.test.v1", envelope.new_event("phr.test.happened", "/tests", "p", {}))
    deadline = time.monotonic() + 20
    while not publisher.sent and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_commit_that_enqueued_in_the_relay_s_own_process_wakes_it_without_any_poll(waiting_relay):
    _enqueue_and_wait(*waiting_relay)
    assert len(waiting_relay[2].sent) == 1


def test_a_relay_woken_by_a_commit_reads_the_rows_after_the_database_has_committed_them(waiting_relay):
    engine, outbox, publisher = waiting_relay
    # SQLAlchemy's commit event comes before the database commits; a slow commit must not let
    # the relay read too early and then wait its hour.
    sa.event.listen(engine, "commit", lambda conn: time.sleep(0.3))
    _enqueue_and_wait(engine, outbox, publisher)
    assert len(publisher.sent) == 1
