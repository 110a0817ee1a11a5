"""Outbox relay and idempotent consumer against in-memory fakes (no broker)."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from tenacity import wait_none

from services.common import envelope
from services.common.consumer import IdempotentConsumer
from services.common.config import load_settings
from services.common.db import make_engine, transaction
from services.common.outbox import OutboxRelay, ParkedEvents, Unpublishable, enqueue, messaging_tables
from services.common.worker import outbox_retention, processed_retention


class ListPublisher:
    def __init__(self, fail_times: int = 0):
        self.sent, self.pending, self.fail_times = [], [], fail_times

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        self.pending.append((topic, key, value, dict(headers)))

    def flush(self):
        if self.fail_times:
            self.fail_times -= 1
            self.pending.clear()
            raise ConnectionError("broker away")
        self.sent.extend(self.pending)
        self.pending.clear()


@pytest.fixture
def db(tmp_path):
    metadata = sa.MetaData()
    outbox, processed = messaging_tables(metadata)
    effects = sa.Table("effects", metadata, sa.Column("event_id", sa.String(64), primary_key=True))
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    metadata.create_all(engine)
    return engine, outbox, processed, effects


def _event(n=0):
    return envelope.new_event("phr.test.happened", "/tests", f"p-{n}", {"n": n})


def test_the_relay_publishes_pending_events_in_order_and_marks_them_sent(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        for n in range(3):
            enqueue(conn, outbox, "phr.test.v1", _event(n))
    publisher = ListPublisher()
    relay = OutboxRelay(engine, outbox, publisher)
    assert relay.run_once() == 3
    assert [json.loads(v)["data"]["n"] for _, _, v, _ in publisher.sent] == [0, 1, 2]
    assert [k for _, k, _, _ in publisher.sent] == ["p-0", "p-1", "p-2"]
    assert all("traceparent" in h for *_, h in publisher.sent)
    assert relay.run_once() == 0


def test_an_event_the_broker_did_not_acknowledge_stays_pending(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        enqueue(conn, outbox, "phr.test.v1", _event())
    publisher = ListPublisher(fail_times=1)
    relay = OutboxRelay(engine, outbox, publisher)
    with pytest.raises(ConnectionError):
        relay.run_once()
    assert relay.run_once() == 1 and len(publisher.sent) == 1


def test_rows_sent_longer_ago_than_the_retention_are_deleted_and_the_rest_kept(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        for n in range(4):
            enqueue(conn, outbox, "phr.test.v1", _event(n))
    now = datetime.now(timezone.utc)
    relay = OutboxRelay(engine, outbox, ListPublisher(), retention=timedelta(days=7))
    with transaction(engine) as conn:  # n=0 sent 8 days ago, n=1 6 days ago, n=2 just now, n=3 pending
        for seq, sent in zip(_seqs(engine, outbox), (now - timedelta(days=8), now - timedelta(days=6), now)):
            conn.execute(outbox.update().where(outbox.c.seq == seq).values(sent_at=sent))
    assert relay.prune(now) == 1
    assert len(_seqs(engine, outbox)) == 3
    assert relay.run_once() == 1  # the pending row is still there, and still sent


def test_a_relay_without_retention_keeps_every_sent_row(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        enqueue(conn, outbox, "phr.test.v1", _event())
    relay = OutboxRelay(engine, outbox, ListPublisher(), retention=None)
    assert relay.run_once() == 1
    assert relay.prune(datetime.now(timezone.utc) + timedelta(days=3650)) == 0
    assert len(_seqs(engine, outbox)) == 1


@pytest.mark.parametrize("days, kept", [(None, timedelta(days=7)), ("2.5", timedelta(days=2.5)), ("0", None)])
def test_the_worker_keeps_sent_rows_as_long_as_outbox_retention_days_says(days, kept):
    environ = {} if days is None else {"OUTBOX_RETENTION_DAYS": days}
    assert outbox_retention(load_settings("records", environ)) == kept


@pytest.mark.parametrize("environ, kept", [
    ({}, timedelta(days=14)),
    ({"PROCESSED_EVENTS_RETENTION_DAYS": "8"}, timedelta(days=8)),
    ({"PROCESSED_EVENTS_RETENTION_DAYS": "0"}, None),
    ({"PROCESSED_EVENTS_RETENTION_DAYS": "0", "OUTBOX_RETENTION_DAYS": "0"}, None)])
def test_consumers_remember_applied_events_as_long_as_processed_events_retention_days_says(environ, kept):
    assert processed_retention(load_settings("records", environ)) == kept


@pytest.mark.parametrize("environ", [
    {"PROCESSED_EVENTS_RETENTION_DAYS": "7"},  # no longer than the outbox's 7 days
    {"PROCESSED_EVENTS_RETENTION_DAYS": "3", "OUTBOX_RETENTION_DAYS": "5"},
    {"OUTBOX_RETENTION_DAYS": "0"}])  # sent rows kept for ever may be sent again any time
def test_a_memory_of_applied_events_shorter_than_the_outbox_s_is_refused(environ):
    with pytest.raises(ValueError, match="PROCESSED_EVENTS_RETENTION_DAYS"):
        processed_retention(load_settings("records", environ))


class RefusingPublisher(ListPublisher):
    """Refuses, as kafka-python does, any message over LIMIT bytes: before sending it
    (client side), or, with AT_BROKER, as the broker does: the whole flush of a batch holding it."""

    def __init__(self, limit: int, at_broker: bool = False):
        super().__init__()
        self.limit, self.at_broker = limit, at_broker

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        if len(value) > self.limit and not self.at_broker:
            raise Unpublishable("MessageSizeTooLargeError: too large")
        super().publish(topic, key, value, headers)

    def flush(self):
        if self.at_broker and any(len(v) > self.limit for _, _, v, _ in self.pending):
            refused = dict.fromkeys(range(len(self.pending)), "MessageSizeTooLargeError")
            self.pending.clear()
            return refused
        super().flush()
        return {}


def _parked(engine, outbox) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.key, r.parked_reason) for r in conn.execute(
            sa.select(outbox).where(outbox.c.parked_at.is_not(None)).order_by(outbox.c.seq))]


def _big_event(n=0, size=5000):
    return envelope.new_event("phr.test.happened", "/tests", f"p-{n}", {"n": n, "pad": "x" * size})


@pytest.mark.parametrize("at_broker", [False, True], ids=["refused-by-the-client", "refused-by-the-broker"])
def test_an_event_the_broker_will_never_take_is_parked_and_the_rest_of_the_batch_goes_out(db, at_broker, caplog):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        enqueue(conn, outbox, "phr.test.v1", _event(1))
        enqueue(conn, outbox, "phr.test.v1", _big_event(2))
        enqueue(conn, outbox, "phr.test.v1", _event(3))
    publisher = RefusingPublisher(limit=1000, at_broker=at_broker)
    relay = OutboxRelay(engine, outbox, publisher)
    assert relay.run_once() == 2
    assert sorted(k for _, k, _, _ in publisher.sent) == ["p-1", "p-3"]
    assert [(key, "MessageSizeTooLargeError" in reason) for key, reason in _parked(engine, outbox)] == [("p-2", True)]
    assert relay.run_once() == 0 and len(publisher.sent) == 2  # parked: never tried again
    log = " ".join(r.getMessage() for r in caplog.records if "parked" in r.getMessage())
    assert "phr.test.happened" in log and "xxxx" not in log  # the type and size, never the payload


def test_a_broker_outage_parks_nothing_and_every_event_goes_out_later(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        for n in range(3):
            enqueue(conn, outbox, "phr.test.v1", _event(n))
    publisher = ListPublisher(fail_times=2)
    relay = OutboxRelay(engine, outbox, publisher)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            relay.run_once()
    assert _parked(engine, outbox) == []
    assert relay.run_once() == 3


def test_parked_events_are_counted_per_topic_for_prometheus(db):
    engine, outbox, _, _ = db
    with transaction(engine) as conn:
        enqueue(conn, outbox, "phr.a.v1", _big_event(1))
        enqueue(conn, outbox, "phr.a.v1", _big_event(2))
        enqueue(conn, outbox, "phr.b.v1", _event(3))
    OutboxRelay(engine, outbox, RefusingPublisher(limit=1000)).run_once()
    [family] = ParkedEvents(engine, outbox, "unit").collect()
    assert [(s.name, s.labels, s.value) for s in family.samples] == [
        ("outbox_parked_events", {"service": "unit", "topic": "phr.a.v1"}, 2)]


def _seqs(engine, outbox) -> list[int]:
    with engine.connect() as conn:
        return [r.seq for r in conn.execute(sa.select(outbox.c.seq).order_by(outbox.c.seq))]


def test_a_rolled_back_change_leaves_no_event_behind(db):
    engine, outbox, _, _ = db
    with pytest.raises(RuntimeError):
        with transaction(engine) as conn:
            enqueue(conn, outbox, "phr.test.v1", _event())
            raise RuntimeError("the state change failed")
    assert OutboxRelay(engine, outbox, ListPublisher()).run_once() == 0


def _consumer(db, handler, dead):
    engine, _, processed, _ = db
    return IdempotentConsumer("unit", engine, processed, {"phr.test.happened": handler}, dead,
                              max_attempts=3, wait=wait_none())


def test_a_redelivered_event_takes_effect_once(db):
    engine, _, _, effects = db
    consumer = _consumer(db, lambda conn, e: conn.execute(effects.insert().values(event_id=e["id"])),
                         ListPublisher())
    raw = json.dumps(_event()).encode()
    assert consumer.handle("phr.test.v1", raw) == "applied"
    assert consumer.handle("phr.test.v1", raw) == "duplicate"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(effects)).scalar() == 1


def test_a_handler_that_keeps_failing_sends_the_message_to_the_dead_letter_topic(db):
    calls = []

    def broken(conn, event):
        calls.append(1)
        raise KeyError("patient")

    dead = ListPublisher()
    consumer = _consumer(db, broken, dead)
    assert consumer.handle("phr.test.v1", json.dumps(_event()).encode()) == "dead-lettered"
    assert len(calls) == 3
    assert dead.sent[0][0] == "phr.test.v1.dlq" and "KeyError" in dead.sent[0][3]["dlq-reason"].decode()


def test_a_message_that_is_not_a_cloudevent_goes_straight_to_the_dead_letter_topic(db):
    dead = ListPublisher()
    consumer = _consumer(db, lambda c, e: None, dead)
    assert consumer.handle("phr.test.v1", b"\x00garbage") == "dead-lettered"
    assert dead.sent[0][0] == "phr.test.v1.dlq"


def test_a_failed_attempt_leaves_no_partial_effect(db):
    engine, _, _, effects = db
    attempts = []

    def flaky(conn, event):
        conn.execute(effects.insert().values(event_id=event["id"]))
        attempts.append(1)
        if len(attempts) < 2:
            raise RuntimeError("transient")

    consumer = _consumer(db, flaky, ListPublisher())
    assert consumer.handle("phr.test.v1", json.dumps(_event()).encode()) == "applied"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(effects)).scalar() == 1


def test_events_of_other_types_are_ignored(db):
    consumer = _consumer(db, lambda c, e: None, ListPublisher())
    other = envelope.new_event("phr.other", "/tests", "p", {})
    assert consumer.handle("phr.test.v1", json.dumps(other).encode()) == "ignored"


def test_a_database_outage_is_not_the_messages_fault_and_is_not_dead_lettered(db):
    from sqlalchemy.exc import OperationalError

    from services.common.consumer import InfrastructureError

    def database_away(conn, event):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    dead = ListPublisher()
    consumer = _consumer(db, database_away, dead)
    with pytest.raises(InfrastructureError):
        consumer.handle("phr.test.v1", json.dumps(_event()).encode())
    assert dead.sent == []


class RestartingBroker:
    """A kafka consumer whose first commit fails as one does while the broker restarts."""

    def __init__(self, batches, stop):
        self.batches, self.stop, self.commits = list(batches), stop, 0

    def poll(self, timeout_ms=0):
        if not self.batches:
            self.stop.set()
            return {}
        return self.batches.pop(0)

    def commit(self):
        self.commits += 1
        if self.commits == 1:
            from kafka.errors import CommitFailedError
            raise CommitFailedError("the group rebalanced")


def test_a_commit_refused_while_the_broker_restarts_does_not_stop_the_consumer(db):
    import threading
    from types import SimpleNamespace

    engine, _, _, effects = db
    consumer = _consumer(db, lambda conn, e: conn.execute(effects.insert().values(event_id=e["id"])),
                         ListPublisher())
    message = lambda n: SimpleNamespace(topic="phr.test.v1", value=json.dumps(_event(n)).encode(),  # noqa: E731
                                        headers=[], offset=n)
    first = message(1)  # not committed, so it comes again: a duplicate then
    stop = threading.Event()
    broker = RestartingBroker([{"tp": [first]}, {"tp": [first, message(2)]}], stop)
    consumer.run(broker, stop, poll_ms=0)
    assert broker.commits == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(effects)).scalar() == 2


def _message(n, event=None):
    from types import SimpleNamespace
    return SimpleNamespace(topic="phr.test.v1", value=json.dumps(event or _event(n)).encode(), headers=[], offset=n)


class OnePollBroker:
    """A kafka consumer that hands out its polls once, then stops the consumer."""

    def __init__(self, polls, stop):
        self.polls, self.stop, self.commits, self.seeks = list(polls), stop, 0, []

    def poll(self, timeout_ms=0):
        if not self.polls:
            self.stop.set()
            return {}
        poll = self.polls.pop(0)
        if isinstance(poll, Exception):
            raise poll
        return poll

    def commit(self):
        self.commits += 1

    def seek(self, tp, offset):
        self.seeks.append(offset)


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_poll_s_records_are_applied_in_one_transaction_each_once(db):
    import threading

    engine, _, processed, effects = db
    commits = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    consumer = _consumer(db, lambda conn, e: conn.execute(effects.insert().values(event_id=e["id"])),
                         ListPublisher())
    twice = _event(99)
    messages = [_message(n) for n in range(10)] + [_message(10, twice), _message(11, twice)]
    stop = threading.Event()
    consumer.run(OnePollBroker([{"tp": messages}], stop), stop, poll_ms=0)
    assert _count(engine, effects) == 11 and _count(engine, processed) == 11
    assert len(commits) == 1


def test_one_bad_message_in_a_batch_dead_letters_only_itself(db):
    import threading

    engine, _, _, effects = db
    bad = _event(5)

    def handler(conn, event):
        if event["id"] == bad["id"]:
            raise KeyError("patient")
        conn.execute(effects.insert().values(event_id=event["id"]))

    dead = ListPublisher()
    consumer = _consumer(db, handler, dead)
    messages = [_message(n) for n in range(5)] + [_message(5, bad), _message(6), _message(7, None)]
    messages.append(_message(8))
    messages[7].value = b"\x00garbage"
    stop = threading.Event()
    consumer.run(OnePollBroker([{"tp": messages}], stop), stop, poll_ms=0)
    assert _count(engine, effects) == 7
    assert [d[0] for d in dead.sent] == ["phr.test.v1.dlq", "phr.test.v1.dlq"]


def test_a_batch_already_applied_once_is_a_duplicate_the_second_time(db):
    import threading

    engine, _, _, effects = db
    consumer = _consumer(db, lambda conn, e: conn.execute(effects.insert().values(event_id=e["id"])),
                         ListPublisher())
    messages = [_message(n) for n in range(4)]
    stop = threading.Event()
    consumer.run(OnePollBroker([{"tp": messages}, {"tp": messages}], stop), stop, poll_ms=0)
    assert _count(engine, effects) == 4


def test_a_poll_that_fails_while_the_broker_is_away_does_not_stop_the_consumer(db):
    import threading

    from kafka.errors import KafkaConnectionError

    engine, _, _, effects = db
    consumer = _consumer(db, lambda conn, e: conn.execute(effects.insert().values(event_id=e["id"])),
                         ListPublisher())
    stop = threading.Event()
    broker = OnePollBroker([KafkaConnectionError("broker away"), {"tp": [_message(1), _message(2)]}], stop)
    consumer.run(broker, stop, poll_ms=0)
    assert _count(engine, effects) == 2 and broker.commits == 1


def test_a_database_outage_during_a_batch_re_reads_from_the_first_message_not_stored(db):
    import threading

    from sqlalchemy.exc import OperationalError

    engine, _, _, effects = db
    stored = []

    def handler(conn, event):
        if event["subject"] == "p-2":
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        conn.execute(effects.insert().values(event_id=event["id"]))
        stored.append(event["subject"])

    dead = ListPublisher()
    consumer = _consumer(db, handler, dead)
    stop = threading.Event()
    stop_after_seek = OnePollBroker([{"tp": [_message(n) for n in range(4)]}], stop)
    original = stop_after_seek.seek
    stop_after_seek.seek = lambda tp, offset: (original(tp, offset), stop.set())
    consumer.run(stop_after_seek, stop, poll_ms=0)
    assert stop_after_seek.seeks == [2] and dead.sent == []
    assert _count(engine, effects) == 2


def test_a_dead_letter_topic_out_of_reach_keeps_the_message_to_read_again_and_the_consumer_going(db):
    import threading

    from services.common.consumer import InfrastructureError

    engine, _, processed, effects = db

    def handler(conn, event):
        if event["data"]["n"] == 1:
            raise KeyError("patient")
        conn.execute(effects.insert().values(event_id=event["id"]))

    dead = ListPublisher(fail_times=1)  # the broker is away for the first dead letter only
    consumer = _consumer(db, handler, dead)
    with pytest.raises(InfrastructureError):
        consumer.handle("phr.test.v1", json.dumps(_event(1)).encode())
    assert dead.sent == [] and _count(engine, processed) == 0

    stop = threading.Event()
    bad = _message(1)
    broker = OnePollBroker([{"tp": [_message(0), bad, _message(2)]}, {"tp": [bad, _message(2)]}], stop)
    dead.fail_times = 1
    consumer.run(broker, stop, poll_ms=0)
    assert broker.seeks == [1]  # read again from the message that could not be set aside
    assert [d[0] for d in dead.sent] == ["phr.test.v1.dlq"]  # set aside once the broker is back
    assert _count(engine, effects) == 2


def test_a_dead_letter_the_broker_refuses_for_good_is_logged_and_does_not_stop_the_consumer(db, caplog):
    class Refusing(ListPublisher):
        def flush(self):
            self.pending.clear()
            return {0: "MessageSizeTooLargeError"}

    consumer = _consumer(db, lambda c, e: (_ for _ in ()).throw(KeyError("patient")), Refusing())
    assert consumer.handle("phr.test.v1", json.dumps(_event()).encode()) == "dead-lettered"
    assert "refused the dead letter" in caplog.text and "MessageSizeTooLargeError" in caplog.text


def test_partitions_of_the_poll_not_handled_yet_are_read_again_when_one_could_not_finish(db):
    import threading

    engine, _, _, effects = db

    def handler(conn, event):
        if event["data"]["n"] == 1:
            raise KeyError("patient")
        conn.execute(effects.insert().values(event_id=event["id"]))

    dead = ListPublisher(fail_times=1)  # the first dead letter meets the broker away
    consumer = _consumer(db, handler, dead)
    first, second = [_message(0), _message(1)], [_message(10), _message(11)]

    class Broker(OnePollBroker):
        def seek(self, tp, offset):
            self.seeks.append((tp, offset))

    stop = threading.Event()
    broker = Broker([{"p0": first, "p1": second}, {"p0": first[1:], "p1": second}], stop)
    consumer.run(broker, stop, poll_ms=0)
    # p0 goes back to the message that failed, p1 (not touched yet) to its first record
    assert broker.seeks == [("p0", 1), ("p1", 10)]
    assert _count(engine, effects) == 3 and [d[0] for d in dead.sent] == ["phr.test.v1.dlq"]
