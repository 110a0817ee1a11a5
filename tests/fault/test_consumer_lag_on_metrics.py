"""A service's worker is paused (SIGSTOP) while events come: the consumer lag on that service's
/metrics rises; the worker goes on (SIGCONT) and the lag falls back to zero."""
import json
import os
import signal
import time

import pytest

from services.common import kafka
from services.common.directory import TOPIC as DIRECTORY_TOPIC
from services.common.envelope import new_event
from services.consent.entrypoints.worker import DIRECTORY_GROUP
from tests.support.metrics import scrape, value
from tests.support.stack import Stack

EVENTS = 5


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("consumer-lag")) as s:
        yield s


def _lag(stack) -> float | None:
    return value(scrape(stack.url("consent")), "phr_consumer_lag_messages",
                 group=DIRECTORY_GROUP, topic=DIRECTORY_TOPIC)


def _wait(stack, ok, timeout: float, what: str) -> float:
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = _lag(stack)
        if seen is not None and ok(seen):
            return seen
        time.sleep(1)
    raise AssertionError(f"{what}: lag {seen} after {timeout} s")


def test_consumer_lag_rises_while_a_worker_is_paused_and_falls_when_it_goes_on(stack):
    _wait(stack, lambda lag: lag == 0, 60, "the consent worker never caught up at start")
    [worker] = stack.pids("services.consent.entrypoints.worker")
    os.kill(worker, signal.SIGSTOP)
    try:
        producer = kafka.producer(stack.bootstrap)
        for _ in range(EVENTS):  # a type the directory consumer ignores: it only has to be read
            event = new_event("phr.directory.probed", "tests", "probe", {})
            producer.send(DIRECTORY_TOPIC, key=b"probe", value=json.dumps(event).encode()).get(timeout=10)
        producer.close()
        risen = _wait(stack, lambda lag: lag >= EVENTS, 30, "the lag did not rise while the worker was paused")
        assert risen == EVENTS
    finally:
        os.kill(worker, signal.SIGCONT)
    _wait(stack, lambda lag: lag == 0, 90, "the lag did not fall after the worker went on")
