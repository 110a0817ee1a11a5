"""Rate limits and the in-memory revocation list."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage

from gateway.authz.revocation import RevocationList
from gateway.proxy.ratelimit import Limiter, LimitsUnavailable, open_limits
from services.common.auth import LEEWAY_SECONDS
from services.common.config import load_settings


def test_a_limit_allows_its_amount_then_says_how_long_to_wait():
    limit = open_limits(None).limiter("tries", 2, 4)
    assert [limit.take("a"), limit.take("a")] == [0, 0]
    assert 1 <= limit.take("a") <= 4
    assert limit.take("b") == 0  # every key has its own budget


def test_limits_of_different_names_count_apart_in_one_store():
    limits = open_limits(None)
    first, second = limits.limiter("first", 1, 60), limits.limiter("second", 1, 60)
    assert first.take("a") == 0 and second.take("a") == 0
    assert first.take("a") >= 1


def test_a_limit_frees_its_budget_once_the_window_has_moved_on():
    limit = open_limits(None).limiter("tries", 1, 1)
    assert limit.take("a") == 0 and limit.take("a") == 1
    time.sleep(1.05)
    assert limit.take("a") == 0


def test_a_rate_with_a_burst_is_the_burst_in_the_seconds_the_rate_takes_to_fill_it():
    limit = open_limits(None).rate("proxy", per_second=50, burst=200)
    assert (limit.item.amount, limit.item.get_expiry()) == (200, 4)
    slow = open_limits(None).rate("proxy", per_second=0.001, burst=2)
    assert (slow.item.amount, slow.item.get_expiry()) == (2, 2000)


def test_without_a_redis_url_limits_count_in_memory_and_with_one_in_redis_under_the_prefix():
    assert isinstance(open_limits(None).storage, MemoryStorage) and not open_limits("").shared
    shared = open_limits("redis://127.0.0.1:1/0", "hospital-a")  # nothing connects yet
    assert isinstance(shared.storage, RedisStorage) and shared.shared
    assert shared.storage.prefixed_key("k") == "hospital-a:limits:k"


def test_a_redis_url_that_is_not_one_fails_at_start_naming_the_setting():
    with pytest.raises(ValueError, match="REDIS_URL"):
        open_limits("http://127.0.0.1:6379")


class AwayCounter:
    """A counter whose store cannot be reached."""

    def hit(self, *_args, **_kw):
        raise StorageError(ConnectionError("refused"))


def test_a_fail_closed_limit_refuses_with_a_retry_after_while_its_store_is_away():
    limit = Limiter(AwayCounter(), "activation", 5, 60, fail_open=False)
    with pytest.raises(LimitsUnavailable) as refused:
        limit.take("a")
    assert refused.value.status == 429 and refused.value.headers["Retry-After"].isdigit()
    assert "cannot count tries" in refused.value.detail


def test_a_fail_open_limit_lets_requests_through_and_logs_the_outage_once(caplog):
    limit = Limiter(AwayCounter(), "proxy", 5, 60, fail_open=True)
    with caplog.at_level(logging.WARNING, logger="gateway.proxy.ratelimit"):
        assert [limit.take("a") for _ in range(5)] == [0] * 5
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "cannot be reached" in said[0] and "pass unlimited" in said[0]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class CountingAwayCounter(AwayCounter):
    def __init__(self):
        self.calls = 0

    def hit(self, *args, **kw):
        self.calls += 1
        return super().hit(*args, **kw)


def test_after_a_failed_call_a_limit_answers_without_asking_the_store_for_a_few_seconds():
    counter, clock = CountingAwayCounter(), Clock()
    closed = Limiter(counter, "activation", 5, 60, fail_open=False, clock=clock)
    for _ in range(3):
        with pytest.raises(LimitsUnavailable):
            closed.take("a")
    assert counter.calls == 1  # an unreachable host costs its timeout once, not on every try
    clock.now += 5.1
    with pytest.raises(LimitsUnavailable):
        closed.take("a")
    assert counter.calls == 2


def test_a_limit_says_once_when_its_store_is_back(caplog):
    clock = Clock()
    limit = Limiter(AwayCounter(), "proxy", 5, 60, fail_open=True, clock=clock)
    limit.take("a")
    limit._counter = open_limits(None)._counter
    assert limit.take("a") == 0 and limit._down  # not asked again yet
    clock.now += 5.1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.proxy.ratelimit"):
        assert [limit.take("a") for _ in range(3)] == [0] * 3
    assert [r.getMessage() for r in caplog.records] == ["rate limit 'proxy': the shared store is back"]


class FakeStore:
    def __init__(self):
        self.rows, self.calls = [], 0

    def revoked_since(self, last_id):
        self.calls += 1
        return [r for r in self.rows if r[0] > last_id]


def test_the_revocation_list_polls_at_most_once_per_interval_and_skips_expired_rows():
    store = FakeStore()
    revoked = RevocationList(store, refresh_seconds=60)
    store.rows = [(1, "gone", int(time.time()) + 60), (2, "old", int(time.time()) - LEEWAY_SECONDS - 1)]
    assert revoked.is_revoked("gone") and not revoked.is_revoked("old")
    store.rows.append((3, "later", int(time.time()) + 60))
    assert not revoked.is_revoked("later") and store.calls == 1  # cached until the next poll
    revoked.refresh()
    assert revoked.is_revoked("later")


class AskingStore(FakeStore):
    def __init__(self):
        super().__init__()
        self.asked = []

    def revoked_since(self, last_id):
        self.asked.append(last_id)
        return super().revoked_since(last_id)


def test_the_revocation_poller_rereads_recent_ids_and_moves_its_floor_once_they_are_old():
    store = AskingStore()
    revoked = RevocationList(store, refresh_seconds=0, overlap_seconds=0.2)
    store.rows = [(1, "a", int(time.time()) + 60), (2, "b", int(time.time()) + 60)]
    revoked.refresh()
    revoked.refresh()
    assert store.asked == [0, 0]  # ids under 2 may still commit: read again
    time.sleep(0.25)
    revoked.refresh()
    assert store.asked[-1] == 2  # the high-water mark as it stood 0.2 s ago
    assert revoked.is_revoked("a") and revoked.is_revoked("b")


def test_the_revocation_snapshot_lists_unexpired_jtis_and_its_etag_follows_the_content():
    store = FakeStore()
    revoked = RevocationList(store, refresh_seconds=0)
    store.rows = [(1, "a", int(time.time()) + 60), (2, "old", int(time.time()) - LEEWAY_SECONDS - 1)]
    etag, body = revoked.snapshot()
    assert b'"a"' in body and b"old" not in body
    assert revoked.snapshot()[0] == etag
    store.rows.append((3, "b", int(time.time()) + 60))
    assert revoked.snapshot()[0] != etag


def test_a_revocation_outlives_its_tokens_expiry_by_the_leeway_validators_still_accept():
    store = FakeStore()
    revoked = RevocationList(store, refresh_seconds=0)
    store.rows = [(1, "just-expired", int(time.time()) - 5)]  # still accepted for 25 more seconds
    assert revoked.is_revoked("just-expired")
    assert b"just-expired" in revoked.snapshot()[1]


def test_the_shared_store_and_the_key_files_are_read_from_the_environment():
    settings = load_settings("gateway", {"REDIS_URL": "redis://cache:6379/2", "REDIS_KEY_PREFIX": "hospital-a",
                                         "GATEWAY_SIGNING_KEY_FILE": "/etc/phr/signing.jwks",
                                         "GATEWAY_SESSION_KEY_FILE": "/etc/phr/session"})
    assert (settings.redis_url, settings.redis_key_prefix) == ("redis://cache:6379/2", "hospital-a")
    assert settings.signing_key_file == Path("/etc/phr/signing.jwks")
    assert settings.session_key_file == Path("/etc/phr/session")
    default = load_settings("gateway", {})
    assert (default.redis_url, default.redis_key_prefix) == (None, "phr")
    assert default.signing_key_file is None and default.session_key_file is None
