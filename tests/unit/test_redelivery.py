"""Sending again what a restarted broker lost, against fakes (services/common/redelivery.py)."""
import json

import pytest
import sqlalchemy as sa

from services.common import envelope
from services.common.db import make_engine, transaction
from services.common.outbox import OutboxRelay, enqueue, messaging_tables
from services.common.redelivery import (BrokerWatch, Checkpoint, Redelivery, RelayMemory, confirmed,
                                       settled_seq)

TOPIC = "phr.test.v1"


class Broker:
    """A publisher and the broker's offsets in one: each message lands on partition 0 of its topic."""

    def __init__(self):
        self.cluster, self.log, self.groups, self.topics_made = "c-1", [], {}, 0
        self.pending = []

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        self.pending.append(json.loads(value)["data"]["n"])

    def flush(self):
        self.log.extend(self.pending)
        self.pending.clear()

    def cluster_id(self):
        return self.cluster

    def end_offsets(self, topics):
        return {(t, 0): len(self.log) for t in topics}

    def committed(self):
        return self.groups

    def restart(self):
        self.cluster, self.log, self.groups = f"c-{int(self.cluster[2:]) + 1}", [], {}

    def ensure_topics(self):
        self.topics_made += 1


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def outbox(tmp_path):
    metadata = sa.MetaData()
    table, _ = messaging_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    metadata.create_all(engine)
    yield engine, table
    engine.dispose()


def _enqueue(engine, table, *numbers):
    with transaction(engine) as conn:
        for n in numbers:
            enqueue(conn, table, TOPIC, envelope.new_event("phr.test.happened", "/tests", f"p-{n}", {"n": n}))


def _relay(engine, table, broker, clock):
    checkpoint = Checkpoint(broker, [TOPIC], every_seconds=5.0, clock=clock)
    redelivery = Redelivery(broker.cluster_id, broker.ensure_topics, checkpoint)
    return OutboxRelay(engine, table, broker, redelivery=redelivery), checkpoint


def test_after_a_broker_restart_the_relay_sends_again_every_row_after_the_checkpoint_in_order(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    relay, checkpoint = _relay(engine, table, broker, clock)
    _enqueue(engine, table, 1, 2)
    assert relay.run_once() == 2  # candidate: seq 2 at offset 2
    broker.groups = {"records": {(TOPIC, 0): 2}}
    _enqueue(engine, table, 3)
    clock.now = 6
    assert relay.run_once() == 1  # the groups read 2: checkpoint 2; candidate seq 3
    assert checkpoint.seq == 2

    broker.restart()
    _enqueue(engine, table, 4)
    assert relay.run_once() == 2
    assert broker.log == [3, 4] and broker.topics_made == 1
    assert relay.run_once() == 0


def test_a_relay_that_never_confirmed_a_checkpoint_sends_everything_kept_again_but_not_parked_rows(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    relay, checkpoint = _relay(engine, table, broker, clock)
    _enqueue(engine, table, 1, 2, 3)
    relay.run_once()
    with transaction(engine) as conn:
        conn.execute(table.update().where(table.c.seq == 2).values(parked_at=sa.func.now()))
    broker.restart()
    assert relay.run_once() == 2
    assert checkpoint.seq == 0 and broker.log == [1, 3]


def test_the_first_cluster_id_a_relay_sees_is_not_a_restart(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    relay, _ = _relay(engine, table, broker, clock)
    _enqueue(engine, table, 1)
    assert relay.run_once() == 1 and relay.run_once() == 0
    assert broker.topics_made == 0


def test_a_failed_topic_creation_is_tried_again_before_the_next_batch(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    relay, _ = _relay(engine, table, broker, clock)
    _enqueue(engine, table, 1)
    relay.run_once()
    broker.restart()

    def away():
        raise ConnectionError("broker away")
    relay.redelivery.ensure_topics = away
    with pytest.raises(ConnectionError):
        relay.run_once()
    relay.redelivery.ensure_topics = broker.ensure_topics
    assert relay.run_once() == 1 and broker.log == [1]


def test_a_worker_started_again_after_the_broker_restarted_too_still_sends_again_what_it_lost(outbox, tmp_path):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    memory = RelayMemory(tmp_path / "var" / "records-relay.json")

    def relay():
        checkpoint = Checkpoint(broker, [TOPIC], every_seconds=5.0, clock=clock)
        return OutboxRelay(engine, table, broker, redelivery=Redelivery(
            broker.cluster_id, broker.ensure_topics, checkpoint, memory=memory)), checkpoint

    first, _ = relay()
    _enqueue(engine, table, 1, 2)
    first.run_once()
    broker.groups = {"records": {(TOPIC, 0): 2}}
    _enqueue(engine, table, 3)
    clock.now = 6
    first.run_once()  # checkpoint 2, remembered with the cluster id

    broker.restart()  # while the worker was stopped as well
    second, checkpoint = relay()
    assert checkpoint.seq == 2
    assert second.run_once() == 1 and broker.log == [3]
    assert memory.load() == (broker.cluster, 2)


def test_a_broker_restarted_before_the_relay_s_first_publish_is_noticed_by_the_id_at_the_worker_s_start(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    started_on = broker.cluster
    broker.restart()
    relay = OutboxRelay(engine, table, broker, redelivery=Redelivery(
        broker.cluster_id, broker.ensure_topics, Checkpoint(broker, [TOPIC], clock=clock), started_on=started_on))
    _enqueue(engine, table, 1)
    assert relay.run_once() == 1 and broker.topics_made == 1


def test_an_unreadable_relay_memory_starts_from_checkpoint_0(tmp_path):
    (tmp_path / "relay.json").write_text("{not json")
    assert RelayMemory(tmp_path / "relay.json").load() == (None, 0)
    assert RelayMemory(tmp_path / "absent.json").load() == (None, 0)


def test_a_candidate_is_confirmed_only_when_every_group_reading_its_topics_committed_its_offsets():
    ends = {(TOPIC, 0): 3, (TOPIC, 1): 2, ("phr.other.v1", 0): 5}
    assert confirmed(ends, {})
    assert confirmed(ends, {"a": {(TOPIC, 0): 3, (TOPIC, 1): 4}, "tool": {("phr.elsewhere", 0): 0}})
    assert not confirmed(ends, {"a": {(TOPIC, 0): 3, (TOPIC, 1): 1}})
    assert not confirmed(ends, {"a": {(TOPIC, 0): 3}}), "a partition it committed nothing on counts as 0"
    assert not confirmed(ends, {"a": {(TOPIC, 0): 3, (TOPIC, 1): 2}, "b": {("phr.other.v1", 0): 4}})


def test_the_checkpoint_moves_only_to_a_candidate_taken_earlier_and_only_every_few_seconds(outbox):
    engine, table = outbox
    broker, clock = Broker(), Clock()
    checkpoint = Checkpoint(broker, [TOPIC], every_seconds=5.0, clock=clock)
    broker.log = [1, 2]
    checkpoint.advance(2)
    assert checkpoint.seq == 0 and checkpoint.candidate.ends == {(TOPIC, 0): 2}
    broker.groups = {"g": {(TOPIC, 0): 1}}
    checkpoint.advance(2)
    assert checkpoint.seq == 0, "the group has not read the second message"
    broker.groups = {"g": {(TOPIC, 0): 2}}
    checkpoint.advance(2)
    assert checkpoint.seq == 2 and checkpoint.candidate is None

    fresh = Checkpoint(broker, [TOPIC], every_seconds=5.0, clock=clock)
    _enqueue(engine, table, 1)
    fresh.maybe_advance(engine, table)
    assert fresh.candidate is None, "nothing settled (the row is pending)"
    with transaction(engine) as conn:
        conn.execute(table.update().values(sent_at=sa.func.now()))
    clock.now = 4
    fresh.maybe_advance(engine, table)
    assert fresh.candidate is None, "not before every_seconds since the last round"
    clock.now = 5
    fresh.maybe_advance(engine, table)
    assert fresh.candidate.seq == 1


def test_the_settled_seq_stops_below_the_first_pending_row(outbox):
    engine, table = outbox
    assert settled_seq(engine, table) == 0
    _enqueue(engine, table, 1, 2, 3)
    with transaction(engine) as conn:
        conn.execute(table.update().where(table.c.seq.in_([1, 3])).values(sent_at=sa.func.now()))
    assert settled_seq(engine, table) == 1
    with transaction(engine) as conn:
        conn.execute(table.update().where(table.c.seq == 2).values(parked_at=sa.func.now()))
    assert settled_seq(engine, table) == 3


class FakeConsumer:
    def __init__(self, broker, batches):
        self.broker, self.batches, self.sought, self.committed = broker, batches, [], 0

    def poll(self, timeout_ms):
        return self.batches.pop(0)() if self.batches else {}

    def assignment(self):
        return {"tp-0", "tp-1"}

    def seek_to_beginning(self, *partitions):
        self.sought.append(set(partitions))

    def commit(self):
        self.committed += 1


def test_a_consumer_that_sees_a_new_cluster_skips_that_poll_and_reads_from_the_beginning():
    import threading

    from services.common.consumer import IdempotentConsumer

    broker, stop = Broker(), threading.Event()
    handled = []

    class Recording(IdempotentConsumer):
        def handle(self, topic, value, headers=None):
            handled.append(value)
            return "applied"

    def message(value):
        return type("M", (), {"topic": TOPIC, "value": value, "headers": [], "offset": 0})

    def first():
        return {"tp-0": [message(b"old")]}

    def after_restart():
        broker.restart()
        return {"tp-0": [message(b"at a stale position")]}

    def from_the_start():
        stop.set()
        return {"tp-0": [message(b"again")]}

    client = FakeConsumer(broker, [first, after_restart, from_the_start])
    consumer = Recording("t", None, None, {}, None)
    consumer.run(client, stop, broker_watch=BrokerWatch(broker.cluster_id))
    assert handled == [b"old", b"again"]
    assert client.sought == [{"tp-0", "tp-1"}]
