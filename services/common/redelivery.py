"""Send again what a broker lost when it restarted empty (README, "Messaging": the broker restart guarantee).

The embedded broker keeps messages in memory and gets a new cluster id at each start
(services/common/broker.py). The outbox is the durable log: a relay that sees a new cluster
id re-creates the topics and marks for sending again every row it sent after the last
checkpoint the consumer groups confirmed (Redelivery); a consumer that sees one reads its
partitions from the beginning (BrokerWatch), and its idempotency (services/common/consumer.py)
drops what it had already applied.

A checkpoint is an outbox seq at or below which every row was sent and every consumer group
that reads the relay's topics has committed past those messages. The last cluster id a relay
saw and its checkpoint are also kept in a small file (RelayMemory), so that a worker started
again after the broker restarted too (a `make up` after a stop) still notices; without that
file a relay begins at checkpoint 0 (everything the outbox still keeps is sent again after a
broker restart: more duplicates, never a loss).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.db import transaction
from services.common.files import replace_private

log = logging.getLogger(__name__)

#: {(topic, partition): offset}
Offsets = dict[tuple[str, int], int]


class BrokerOffsets(Protocol):
    """What the checkpoint asks the broker (KafkaOffsets; a dict in unit tests)."""

    def end_offsets(self, topics: list[str]) -> Offsets: ...

    def committed(self) -> dict[str, Offsets]:
        """{group: its committed offsets} for every consumer group the broker knows."""
        ...


class KafkaOffsets:
    """BrokerOffsets through kafka-python's admin client, made on first use, dropped on an error."""

    def __init__(self, bootstrap: str, partitions: int):
        self.bootstrap, self.partitions = bootstrap, partitions
        self._admin = None

    def _client(self):
        if self._admin is None:
            from kafka import KafkaAdminClient

            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="phr-checkpoint",
                                           request_timeout_ms=5000)
        return self._admin

    def _call(self, ask):
        try:
            return ask(self._client())
        except Exception:
            self.close()
            raise

    def end_offsets(self, topics: list[str]) -> Offsets:
        from kafka import TopicPartition
        from kafka.protocol.consumer.offsets import OffsetSpec

        specs = {TopicPartition(t, p): OffsetSpec.LATEST for t in topics for p in range(self.partitions)}
        found = self._call(lambda admin: admin.list_partition_offsets(specs))
        return {(tp.topic, tp.partition): answer.offset for tp, answer in found.items()}

    def committed(self) -> dict[str, Offsets]:
        def ask(admin):
            groups = [g["group_id"] for g in admin.list_groups()]
            return {group: {(tp.topic, tp.partition): meta.offset
                            for tp, meta in admin.list_group_offsets({group: None})[group].items()}
                    for group in groups}
        return self._call(ask)

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            finally:
                self._admin = None


def confirmed(ends: Offsets, committed: dict[str, Offsets]) -> bool:
    """Whether every group that reads a topic of ENDS has committed at least ENDS on each of
    its partitions.

    A group reads a topic when it committed an offset on any of its partitions; a partition
    it committed nothing on counts as 0 (nothing read yet). Groups that never committed on
    these topics (a tool reading the broker, a group yet to start) are not waited for.
    """
    topics = {topic for topic, _ in ends}
    for offsets in committed.values():
        read = {topic for topic, _ in offsets if topic in topics}
        for (topic, partition), end in ends.items():
            if topic in read and offsets.get((topic, partition), 0) < end:
                return False
    return True


@dataclass
class Candidate:
    seq: int
    ends: Offsets


class Checkpoint:
    """The outbox seq up to which every consumer group has read what the relay sent.

    Every EVERY_SECONDS (while rows are being sent) it checks the candidate taken last time
    and takes a new one: the highest seq with no pending row at or below it, and the end
    offsets of TOPICS read after it. Once every group has committed those offsets, the
    messages of every row up to that seq were consumed, and the candidate is the checkpoint.
    """

    def __init__(self, offsets: BrokerOffsets, topics: list[str], every_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.offsets, self.topics, self.every, self.clock = offsets, topics, every_seconds, clock
        self.seq = 0
        self.candidate: Candidate | None = None
        self._next = 0.0

    def maybe_advance(self, engine: Engine, outbox: sa.Table) -> None:
        """Advance if it is time; a broker or database away only skips a round."""
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every
        try:
            self.advance(settled_seq(engine, outbox))
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.debug("outbox checkpoint not advanced: %s", exc)

    def advance(self, settled: int) -> None:
        """Confirm the last candidate if the groups are past it; take SETTLED as the next one."""
        if self.candidate is not None and self.candidate.seq > self.seq \
                and confirmed(self.candidate.ends, self.offsets.committed()):
            self.seq = self.candidate.seq
            log.debug("outbox checkpoint now %d", self.seq)
        self.candidate = Candidate(settled, self.offsets.end_offsets(self.topics)) if settled > self.seq else None

    def forget_candidate(self) -> None:
        """The broker restarted: the candidate's offsets were on the broker that is gone."""
        self.candidate = None
        self._next = 0.0


def settled_seq(engine: Engine, outbox: sa.Table) -> int:
    """The highest seq at or below which no outbox row is pending (0 for an empty outbox)."""
    o = outbox
    with engine.connect() as conn:
        pending = conn.execute(sa.select(sa.func.min(o.c.seq)).where(
            o.c.sent_at.is_(None), o.c.parked_at.is_(None))).scalar()
        if pending is not None:
            return pending - 1
        return conn.execute(sa.select(sa.func.max(o.c.seq))).scalar() or 0


def send_again_after(engine: Engine, outbox: sa.Table, seq: int) -> int:
    """Mark every row sent after SEQ (not the parked ones) for sending again; return how many."""
    o = outbox
    with transaction(engine) as conn:
        return conn.execute(o.update().where(o.c.sent_at.is_not(None), o.c.parked_at.is_(None),
                                             o.c.seq > seq).values(sent_at=None)).rowcount


class RelayMemory:
    """The last cluster id and checkpoint of a relay, in the private JSON file PATH (written whole, by rename).

    A file it cannot read or write costs only duplicates or the notice of a restart that
    happened while the worker was stopped, so a failure is logged and the relay goes on.
    """

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> tuple[str | None, int]:
        try:
            saved = json.loads(self.path.read_text())
            return (str(saved["cluster_id"]) if saved.get("cluster_id") else None), int(saved.get("checkpoint", 0))
        except FileNotFoundError:
            return None, 0
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("relay memory %s not read, starting from checkpoint 0: %s", self.path, exc)
            return None, 0

    def save(self, cluster_id: str | None, checkpoint: int) -> None:
        try:
            replace_private(self.path, json.dumps({"cluster_id": cluster_id, "checkpoint": checkpoint}))
        except OSError as exc:
            log.warning("relay memory %s not written: %s", self.path, exc)


class Redelivery:
    """The relay's side (services/common/outbox.py, OutboxRelay): notice a broker started
    again empty, and send again what it may have lost.

    CLUSTER_ID returns the cluster id the relay's publisher last saw (None before any);
    ENSURE_TOPICS creates the topics on the new broker; RECONNECT (optional) makes the
    publisher start over with a new producer (KafkaPublisher.discard). STARTED_ON is the
    cluster id at the worker's start, known before the relay publishes anything: a broker
    that restarts before the first publish is noticed too (the relay's sends to topics the
    new broker does not have would only time out).
    """

    def __init__(self, cluster_id: Callable[[], str | None], ensure_topics: Callable[[], None],
                 checkpoint: Checkpoint, reconnect: Callable[[], None] | None = None,
                 memory: RelayMemory | None = None, started_on: str | None = None):
        self.cluster_id, self.ensure_topics, self.checkpoint = cluster_id, ensure_topics, checkpoint
        self.reconnect = reconnect or (lambda: None)
        self.memory = memory
        self.seen, self._remembered = started_on, False
        if memory is not None:
            remembered, checkpoint.seq = memory.load()
            self.seen = remembered or started_on

    def check(self, engine: Engine, outbox: sa.Table) -> int:
        """Call before each batch and after a publish error; return how many rows go again."""
        now = self.cluster_id()
        if now is not None and now == self.seen and not self._remembered:
            self._remember()  # what a worker started again compares with
        if now is None or now == self.seen:
            return 0
        before, self.seen = self.seen, now
        if before is None:
            self._remember()
            return 0
        self.checkpoint.forget_candidate()
        self.reconnect()
        try:
            self.ensure_topics()
            count = send_again_after(engine, outbox, self.checkpoint.seq)
        except Exception:
            self.seen = before  # try again at the next check
            raise
        log.warning("the broker restarted (cluster %s, was %s) and may have lost what it held: "
                    "%d outbox events sent after checkpoint %d go out again",
                    now, before, count, self.checkpoint.seq)
        self._remember()
        return count

    def sent(self, engine: Engine, outbox: sa.Table) -> None:
        """Call after a batch went out: advances the checkpoint every few seconds."""
        before = self.checkpoint.seq
        self.checkpoint.maybe_advance(engine, outbox)
        if self.checkpoint.seq != before:
            self._remember()

    def _remember(self) -> None:
        self._remembered = True
        if self.memory is not None:
            self.memory.save(self.seen, self.checkpoint.seq)


class BrokerWatch:
    """The consumer's side: whether the broker a consumer reads changed since the last look."""

    def __init__(self, cluster_id: Callable[[], str | None]):
        self.cluster_id = cluster_id
        self.seen: str | None = None

    def restarted(self) -> bool:
        now = self.cluster_id()
        if now is None or now == self.seen:
            return False
        before, self.seen = self.seen, now
        return before is not None
