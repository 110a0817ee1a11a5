"""The fetch pacer: short broker waits while messages flow, long ones after a quiet spell."""
from services.common.kafka import FetchPacer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _pacer(clock, linger=10.0):
    calls = []
    pacer = FetchPacer("client", busy_ms=10, idle_ms=250, linger_seconds=linger, clock=clock,
                       setter=lambda client, ms: calls.append((client, ms)))
    return pacer, calls


def test_a_new_pacer_starts_on_the_idle_wait():
    pacer, calls = _pacer(Clock())
    assert calls == [("client", 250)] and pacer.wait_ms == 250


def test_a_message_switches_to_the_busy_wait_at_once():
    clock = Clock()
    pacer, calls = _pacer(clock)
    clock.now = 5.0
    pacer.observe(True)
    assert calls[-1] == ("client", 10)


def test_the_busy_wait_lasts_the_linger_after_the_last_message_then_goes_back_to_idle():
    clock = Clock()
    pacer, calls = _pacer(clock, linger=10.0)
    pacer.observe(True)
    for clock.now in (3.0, 6.0, 9.9):
        pacer.observe(False)
    assert pacer.wait_ms == 10
    clock.now = 10.0
    pacer.observe(False)
    assert pacer.wait_ms == 250
    assert calls == [("client", 250), ("client", 10), ("client", 250)]


def test_each_message_restarts_the_linger():
    clock = Clock()
    pacer, _ = _pacer(clock, linger=10.0)
    pacer.observe(True)
    clock.now = 8.0
    pacer.observe(True)
    clock.now = 17.0
    pacer.observe(False)
    assert pacer.wait_ms == 10


def test_the_client_is_told_only_when_the_wait_changes():
    clock = Clock()
    pacer, calls = _pacer(clock)
    for _ in range(5):
        pacer.observe(False)
    pacer.observe(True)
    pacer.observe(True)
    assert calls == [("client", 250), ("client", 10)]
