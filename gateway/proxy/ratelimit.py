"""Rate limits: one interface, counted in this process's memory or shared in Redis.

The ``limits`` library counts every limit with its moving window: at most AMOUNT hits per key in
any SECONDS. Where they are counted is chosen once per process, at bootstrap
(gateway/bootstrap.py, ``open_limits``): in memory by default, for the embedded stack; in Redis
when ``REDIS_URL`` is set, so that every gateway process and every worker of each counts the same
budget (README, "Running N instances").

When Redis cannot be reached a limit answers as it was made to: the limits that guard sensitive
actions (activating an account, joining with an invite code, registering an app, counting a page
answer) refuse, with a 429 and a Retry-After (``LimitsUnavailable``), since a guesser must not
get unlimited tries while the store is away; the proxy's per-client rate lets requests through
(``fail_open``), since refusing every request would take the whole API down with Redis. Each
logs the outage once, and once again when Redis is back.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)

#: Retry-After while the shared store is away (a fail-closed limit refuses for this long).
DOWN_RETRY_SECONDS = 30
#: How long one call to Redis may take before the store counts as away: a limit sits on the
#: path of every request, so a slow store must not hold requests for the client's defaults
#: (redis-py retries 3 times with up to 10 s backoff).
REDIS_TIMEOUT_SECONDS = 0.5
#: After a failed call, how long a limit answers as if the store were away without asking it:
#: an unreachable host costs the connect timeout, which every request would otherwise wait.
RECHECK_SECONDS = 5.0


class LimitsUnavailable(Problem):
    """A fail-closed limit whose store cannot be reached: 429 problem+json with Retry-After."""

    def __init__(self, seconds: int = DOWN_RETRY_SECONDS):
        super().__init__(429, N_("Too Many Requests"),
                         N_("We cannot count tries right now, so we do not take any for a short "
                            "while. This keeps accounts safe. Wait {seconds} seconds, then try again."),
                         slug="limits-unavailable", headers={"Retry-After": str(seconds)},
                         params={"seconds": seconds})
        self.seconds = seconds


class Limiter:
    """At most AMOUNT hits per key in any SECONDS, counted in the process's one store."""

    def __init__(self, counter: MovingWindowRateLimiter, name: str, amount: int, seconds: int,
                 fail_open: bool, clock=time.monotonic):
        self._counter, self.name, self.fail_open = counter, name, fail_open
        self.item = RateLimitItemPerSecond(amount, seconds)
        self._down = False
        self._retry_at = 0.0  # while the store is away: when to ask it again
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one hit of KEY's budget: 0 when allowed, else the whole seconds to wait (>= 1).

        When the store cannot be reached: 0 if this limit fails open, else LimitsUnavailable.
        """
        if self._down and self._clock() < self._retry_at:
            return self._away()
        try:
            if self._counter.hit(self.item, self.name, key):
                self._went("up")
                return 0
            reset = self._counter.get_window_stats(self.item, self.name, key).reset_time
        except StorageError as exc:
            self._retry_at = self._clock() + RECHECK_SECONDS
            self._went("down", exc)
            return self._away()
        self._went("up")
        return max(1, math.ceil(reset - time.time()))

    def _away(self) -> int:
        if self.fail_open:
            return 0
        raise LimitsUnavailable()

    def _went(self, state: str, exc: Exception | None = None) -> None:
        """Log the store's outage once when it starts, and once when it ends."""
        down = state == "down"
        if down == self._down:
            return
        with self._lock:
            if down == self._down:
                return
            self._down = down
        if down:
            log.warning("rate limit %r: the shared store cannot be reached (%s); %s until it is back",
                        self.name, type(getattr(exc, "storage_error", exc)).__name__,
                        "requests pass unlimited" if self.fail_open else "every try is refused")
        else:
            log.warning("rate limit %r: the shared store is back", self.name)


class Limits:
    """The one store every limit of a process counts in; makes the limiters."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.shared = isinstance(storage, RedisStorage)
        self._counter = MovingWindowRateLimiter(storage)

    def limiter(self, name: str, amount: float, seconds: float, *, fail_open: bool = False) -> Limiter:
        """A limit NAME of AMOUNT hits per SECONDS (whole numbers, at least 1; a window of a
        fraction of a second is counted as a whole one)."""
        return Limiter(self._counter, name, max(1, int(amount)), max(1, math.ceil(seconds)), fail_open)

    def rate(self, name: str, per_second: float, burst: float, *, fail_open: bool = False) -> Limiter:
        """A limit of PER_SECOND on average with bursts up to BURST: BURST hits in any
        BURST / PER_SECOND seconds."""
        burst = max(1, int(burst))
        seconds = burst / per_second if per_second > 0 else 365 * 86400
        return self.limiter(name, burst, seconds, fail_open=fail_open)


def open_limits(redis_url: str | None, key_prefix: str = "phr") -> Limits:
    """The store of this process's limits: Redis at REDIS_URL (keys under KEY_PREFIX), else memory.

    Nothing connects here; the first limit that counts does.
    """
    if not redis_url:
        return Limits(MemoryStorage())
    try:
        storage = RedisStorage(redis_url, key_prefix=f"{key_prefix}:limits", wrap_exceptions=True,
                               socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                               socket_timeout=REDIS_TIMEOUT_SECONDS,
                               retry=Retry(NoBackoff(), 0))
    except ValueError as exc:  # redis.from_url's word for a URL it cannot read
        raise ValueError(f"REDIS_URL is not a Redis URL (redis://, rediss:// or unix://): {exc}") from None
    return Limits(storage)
