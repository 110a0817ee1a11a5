"""Rate limits and the in-memory revocation list."""
from __future__ import annotations

import time

from gateway.ratelimit import TokenBucket
from gateway.revocation import RevocationList


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
    store.rows = [(1, "gone", int(time.time()) + 60), (2, "old", int(time.time()) - 1)]
    assert revoked.is_revoked("gone") and not revoked.is_revoked("old")
    store.rows.append((3, "later", int(time.time()) + 60))
    assert not revoked.is_revoked("later") and store.calls == 1  # cached until the next poll
    revoked.refresh()
    assert revoked.is_revoked("later")
