"""Token-bucket rate limits, kept in this process's memory.

With N server worker processes a client may get up to N times the configured rate; that is accepted
for the coarse limit the gateway enforces (docs/architecture.md, "Security model").
"""
from __future__ import annotations

import math
import threading
import time


class TokenBucket:
    """Allow RATE requests per second per key, with bursts up to BURST."""

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one token for KEY; return 0 when allowed, else the seconds to wait (>= 1)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                    self._buckets.clear()
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
        wait = (1 - tokens) / self.rate if self.rate > 0 else 3600
        return max(1, math.ceil(wait))
