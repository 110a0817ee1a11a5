"""A small closed-loop HTTP load generator (threads, keep-alive connections, bounded in time).

Written by hand because it must run with nothing but the standard library on loopback and
measure per-request latency; every target in one run uses this same client, so their ratio is fair.
"""
from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(q * (len(data) - 1))))] * 1000


def run(name: str, url: str, headers: dict | None = None, concurrency: int = 16,
        seconds: float = 8.0, warmup: float = 2.0, expect: int = 200,
        method: str = "GET", body: bytes | None = None) -> Result:
    """Send METHOD URL (with BODY) from CONCURRENCY threads for SECONDS after WARMUP; return the measurements."""
    target = urlparse(url)
    path = target.path + (f"?{target.query}" if target.query else "")
    lock, latencies, counts = threading.Lock(), [], {"ok": 0, "err": 0}
    start_measure = time.perf_counter() + warmup
    stop_at = start_measure + seconds

    def worker():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        mine, ok, err = [], 0, 0
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                resp.read()
                good = resp.status == expect
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                good = False
            t1 = time.perf_counter()
            if t0 >= start_measure:
                if good:
                    ok += 1
                    mine.append(t1 - t0)
                else:
                    err += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["ok"] += ok
            counts["err"] += err

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(name, counts["ok"], counts["err"], seconds, latencies)


def summary(values: list[float]) -> tuple[float, float]:
    """Return (p50, p99) in milliseconds of VALUES given in seconds."""
    data = sorted(values)
    return (statistics.median(data) * 1000, data[int(0.99 * (len(data) - 1))] * 1000)
