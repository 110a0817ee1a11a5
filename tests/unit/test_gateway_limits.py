"""Rate limits and the in-memory revocation list."""
from __future__ import annotations

import time

from gateway.proxy.ratelimit import TokenBucket
from gateway.authz.revocation import RevocationList
from services.common.auth import LEEWAY_SECONDS


def test_a_bucket_allows_the_burst_then_says_how_long_to_wait():
    bucket = TokenBucket(rate=0.5, burst=2)
    assert [bucket.take("a"), bucket.take("a")] == [0, 0]
    assert bucket.take("a") == 2
    assert bucket.take("b") == 0  # every key has its own bucket


def test_a_bucket_refills_over_time():
    bucket = TokenBucket(rate=50, burst=1)
    assert bucket.take("a") == 0 and bucket.take("a") >= 1
    time.sleep(0.05)
    assert bucket.take("a") == 0


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
