"""Start the embedded Tansu broker on a free port for a test session."""
from __future__ import annotations

import socket
import subprocess
import time

from services.common.broker import broker_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port}")


class Broker:
    """A Tansu process that can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        self.proc = subprocess.Popen(broker_command("127.0.0.1", self.port),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def event_ids_on_the_broker(bootstrap: str, topics: list[str], want: int, settle: float = 3.0,
                            timeout: float = 60.0) -> list[str]:
    """Read TOPICS from their beginning, as a new consumer group; return the CloudEvent id of
    every message (one entry per message, so a copy shows twice). Reads until WANT messages
    came and nothing more for SETTLE seconds, or TIMEOUT."""
    import json
    import uuid

    from services.common import kafka

    consumer = kafka.consumer(bootstrap, f"count-{uuid.uuid4().hex[:8]}", topics)
    ids, deadline, quiet_since = [], time.monotonic() + timeout, time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = [m for messages in consumer.poll(timeout_ms=200).values() for m in messages]
            if batch:
                quiet_since = time.monotonic()
            ids += [json.loads(m.value)["id"] for m in batch]
            if len(ids) >= want and time.monotonic() - quiet_since >= settle:
                break
    finally:
        consumer.close()
    return ids
