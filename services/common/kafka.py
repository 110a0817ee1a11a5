"""Kafka client setup (kafka-python) for the topics the contract names (contracts/events.py)."""
from __future__ import annotations

import logging
import socket
import time

import google_crc32c
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from contracts.events import PARTITIONS, TOPICS

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# With these settings a consumer group joins the embedded broker several times faster than
# with the client's defaults (README, "Benchmarks", has the measurement).
CONSUMER_TIMING = dict(session_timeout_ms=6000, heartbeat_interval_ms=1000,
                       max_poll_interval_ms=10000)


def all_topics() -> list[str]:
    """Return every topic including the dead-letter topics."""
    return [*TOPICS, *(f"{t}.dlq" for t in TOPICS)]


def use_fast_checksums() -> None:
    """Have kafka-python compute record batches' CRC-32C in C.

    kafka-python checksums every batch it produces, and every batch each consumer group
    fetches, in pure Python (about 0.3 ms for one 1.5 KB event here) unless the LGPL `crc32c`
    package is installed. google-crc32c (Apache-2.0) computes the same value in C about 500
    times faster. kafka-python offers no setting for this, so its one checksum function is
    replaced (kafka-python is pinned in constraints.txt; tests/unit/test_kafka_checksums.py
    checks the replacement against kafka-python's own on every version we run). Called by the
    producer and consumer factories, so nothing happens at import time.
    """
    from kafka.record import default_records
    if default_records.calc_crc32c is _crc32c or google_crc32c.implementation != "c":
        return
    default_records.calc_crc32c = _crc32c


def _crc32c(memview) -> int:
    return google_crc32c.value(bytes(memview))


def producer(bootstrap: str, **extra) -> KafkaProducer:
    """Create a producer that waits for every in-sync replica and retries on its own."""
    use_fast_checksums()
    # Short timeouts: during an outage the relay should fail fast and retry from the outbox
    # (which keeps every event) rather than block for the client's default minute.
    options = dict(acks="all", linger_ms=0, max_request_size=MAX_MESSAGE_BYTES, retries=5,
                   client_id="phr-producer", bootstrap_timeout_ms=5000, max_block_ms=5000,
                   request_timeout_ms=10000, delivery_timeout_ms=30000)
    return KafkaProducer(bootstrap_servers=bootstrap, **{**options, **extra})


def consumer(bootstrap: str, group_id: str, topics: list[str], **extra) -> KafkaConsumer:
    """Create a consumer that commits only when told to (after the effect is stored)."""
    use_fast_checksums()
    # fetch_max_wait_ms: the broker answers an empty fetch after 20 ms instead of the client's
    # default 500 ms, so a request/reply over Kafka (exchange <-> records) is not held back.
    options = {**CONSUMER_TIMING, "fetch_max_wait_ms": 20, **extra}
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
                      auto_offset_reset="earliest", fetch_max_bytes=MAX_MESSAGE_BYTES,
                      max_partition_fetch_bytes=MAX_MESSAGE_BYTES, **options)
    c.subscribe(topics)
    return c


def ensure_topics(bootstrap: str, topics: list[str] | None = None, timeout: float = 60.0) -> str | None:
    """Create TOPICS (default: all) if they do not exist, waiting for the broker up to TIMEOUT;
    return the broker's cluster id (None if it would not tell)."""
    wanted = topics or all_topics()
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="phr-admin")
            break
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no Kafka broker answered at {bootstrap}") from exc
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
                log.info("created topic %s", topic)
            except TopicAlreadyExistsError:
                pass
        try:
            return admin.describe_cluster()["cluster_id"]
        except (KafkaError, KeyError) as exc:  # a broker too old for DescribeCluster
            log.debug("cluster id not known: %s", exc)
            return None
    finally:
        admin.close()


def broker_reachable(bootstrap: str, timeout: float = 1.0) -> None:
    """Raise OSError unless some bootstrap server accepts a TCP connection."""
    last: OSError | None = None
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return
        except OSError as exc:
            last = exc
    raise last or OSError(f"no bootstrap server in {bootstrap!r}")


def cluster_id(client: KafkaProducer | KafkaConsumer) -> str | None:
    """The cluster id of the broker CLIENT last read metadata from (None before the first read).

    The embedded broker gets a new id at each start (services/common/broker.py), so a changed
    id means the broker restarted empty. kafka-python keeps the id of its latest metadata
    response on its ClusterMetadata, which it refreshes on its own after a disconnect, and has
    no public getter for it (kafka-python 3.0.12, pinned;
    tests/integration/test_messaging_on_the_real_broker.py fails if that stops being so).
    """
    metadata = client._metadata if isinstance(client, KafkaProducer) else client._client.cluster  # noqa: SLF001
    return metadata.cluster_id


#: A paced consumer goes back to its idle fetch wait this long after its last message.
IDLE_AFTER_SECONDS = 10.0


def set_fetch_wait(client: KafkaConsumer, wait_ms: int) -> None:
    """Make CLIENT's next fetch requests wait up to WAIT_MS at the broker for data.

    kafka-python fixes fetch_max_wait_ms at construction and has no public setter; its
    Fetcher reads this value each time it builds a FetchRequest (kafka-python 3.0.12, pinned;
    tests/integration/test_messaging_on_the_real_broker.py fails if that stops being so).
    """
    client._fetcher.config["fetch_max_wait_ms"] = wait_ms  # noqa: SLF001 - see the docstring


class FetchPacer:
    """Short fetch waits while messages flow, long ones once a consumer has been idle a while.

    The embedded broker (Tansu) answers a waiting fetch by reading its storage at the start
    and the end of the wait, not when a record arrives, so a hop of a request/reply flow takes
    up to one fetch wait, and every empty fetch costs both sides CPU: a short wait means dozens
    of fetches a second per consumer, on the same two cores as the servers. Kafka itself
    answers as soon as data arrives; there the busy wait could be as long as the idle one.
    """

    def __init__(self, client: KafkaConsumer, busy_ms: int, idle_ms: int,
                 linger_seconds: float = IDLE_AFTER_SECONDS, clock=time.monotonic, setter=set_fetch_wait):
        self.client, self.busy_ms, self.idle_ms = client, busy_ms, idle_ms
        self.linger, self.clock, self.setter = linger_seconds, clock, setter
        self.last_message = float("-inf")
        self.wait_ms: int | None = None
        self._apply(idle_ms)

    def observe(self, got_messages: bool) -> None:
        """Call after every poll: stay on short waits for LINGER seconds after the last message."""
        now = self.clock()
        if got_messages:
            self.last_message = now
        self._apply(self.busy_ms if now - self.last_message < self.linger else self.idle_ms)

    def _apply(self, wait_ms: int) -> None:
        if wait_ms != self.wait_ms:
            self.setter(self.client, wait_ms)
            self.wait_ms = wait_ms
            log.debug("fetch wait now %d ms", wait_ms)
