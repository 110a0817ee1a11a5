"""A closed-loop HTTP load generator: wrk when installed, else a small one in Python threads.

Every HTTP target in one run goes through the same generator, so their ratios are fair.
wrk (C, epoll) is preferred because the generator shares the cores with the servers: Python
threads cost about as much CPU per request as the bare Flask endpoint they measure, which
inflates every latency. The Python generator needs nothing but the standard library and
is used when wrk is absent (or when ``BENCH_LOADGEN=python``); the report says which ran.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    # Percentiles (q -> seconds) reported by a generator that keeps no per-request samples.
    quantiles: dict[float, float] = field(default_factory=dict)
    # CPU seconds the serving processes used while measured (None when not asked for).
    server_cpu: float | None = None

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per request (NaN when not measured)."""
        if self.server_cpu is None or not self.requests:
            return float("nan")
        return self.server_cpu / self.requests * 1000

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Return the Q quantile of the latencies in milliseconds (NaN without any)."""
        if q in self.quantiles:
            return self.quantiles[q] * 1000
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(q * (len(data) - 1))))] * 1000


def generator() -> str:
    """Name the generator ``run`` uses: "wrk" when installed (unless BENCH_LOADGEN=python)."""
    wanted = os.environ.get("BENCH_LOADGEN", "").strip().lower()
    if wanted == "python" or not shutil.which("wrk"):
        return "python"
    return "wrk"


def describe() -> str:
    """One sentence for the report naming the load generator and why."""
    if generator() == "wrk":
        return ("Load generator: wrk (C, one thread, keep-alive connections), started beside the "
                "servers on the same cores.")
    reason = "BENCH_LOADGEN=python" if shutil.which("wrk") else "wrk is not installed"
    return (f"Load generator: Python threads ({reason}); they share the cores with the servers, "
            "so latencies and rates are pessimistic; install wrk for comparable figures.")


def run(name: str, url: str, headers: dict | None = None, concurrency: int = 16,
        seconds: float = 8.0, warmup: float = 2.0, expect: int = 200,
        method: str = "GET", body: bytes | None = None, servers: list[int] | None = None) -> Result:
    """Send METHOD URL (with BODY) over CONCURRENCY connections for SECONDS after WARMUP.

    SERVERS: process ids (with their children) whose CPU time is measured over the run.
    """
    if generator() == "wrk":
        return run_wrk(name, url, headers, concurrency, seconds, warmup, expect, method, body, servers)
    return run_threads(name, url, headers, concurrency, seconds, warmup, expect, method, body, servers)


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def cpu_seconds(roots: list[int] | None) -> float | None:
    """Return the user+system CPU seconds of ROOTS and all their descendants (None without /proc)."""
    if not roots or not os.path.isdir("/proc"):
        return None
    kids, todo, total, tick = _children(), list(roots), 0, os.sysconf("SC_CLK_TCK")
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:  # a root may also be another root's child (a server's worker, say)
            continue
        seen.add(pid)
        todo.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def _cpu_between(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def listening_pids(port: int) -> list[int]:
    """Return the ids of processes whose command line serves PORT (``services.common.serve``)."""
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(a.endswith(f":{port}") for a in args) and "services.common.serve" in args:
                pids.append(int(entry))
    return pids


# wrk calls setup() per thread, response() per reply and done() once; done() reads each
# thread's count of unexpected statuses. Latencies are in microseconds.
_WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) unexpected = 0 end
function response(status, headers, body)
  if status ~= {expect} then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("unexpected") end
  local e = summary.errors
  io.write(string.format("PHR-BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    bad, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
_WRK_LINE = re.compile(r"^PHR-BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.M)


def _lua(value: str | bytes) -> str:
    """Quote VALUE as a Lua string literal: printable ASCII as is, every other byte as \\ddd."""
    data = value.encode() if isinstance(value, str) else value
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}"
                         for b in data) + '"'


def wrk_script(headers: dict | None, expect: int, method: str, body: bytes | None) -> str:
    """Return the Lua script for wrk that sends this request and reports the figures."""
    lines = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in (headers or {}).items())
    return _WRK_SCRIPT.format(method=_lua(method), body=_lua(body) if body else "nil",
                              headers=lines, expect=int(expect))


def parse_wrk(name: str, output: str) -> Result:
    """Read the PHR-BENCH line of the script's done() into a Result."""
    match = _WRK_LINE.search(output)
    if not match:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    total, duration_us, unexpected, socket_errors, p50_us, p99_us = map(int, match.groups())
    return Result(name, total - unexpected, unexpected + socket_errors, duration_us / 1e6, [],
                  {0.5: p50_us / 1e6, 0.99: p99_us / 1e6})


def run_wrk(name: str, url: str, headers: dict | None, concurrency: int, seconds: float,
            warmup: float, expect: int, method: str, body: bytes | None,
            servers: list[int] | None = None) -> Result:
    """Warm up, then measure with one wrk thread holding CONCURRENCY connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="phr-bench-") as script:
        script.write(wrk_script(headers, expect, method, body))
        script.flush()

        def wrk(duration: float) -> str:
            # -t1: one event loop drives 16 connections easily and leaves the cores to the servers.
            cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
                   "-s", script.name, url]
            return subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  timeout=duration + 30).stdout

        if warmup > 0:
            wrk(warmup)
        before = cpu_seconds(servers)
        result = parse_wrk(name, wrk(seconds))
        result.server_cpu = _cpu_between(before, cpu_seconds(servers))
        return result


def run_threads(name: str, url: str, headers: dict | None = None, concurrency: int = 16,
                seconds: float = 8.0, warmup: float = 2.0, expect: int = 200,
                method: str = "GET", body: bytes | None = None, servers: list[int] | None = None) -> Result:
    """The fallback: CONCURRENCY Python threads, each with one keep-alive connection."""
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
    time.sleep(max(0.0, start_measure - time.perf_counter()))
    before = cpu_seconds(servers)
    for t in threads:
        t.join()
    return Result(name, counts["ok"], counts["err"], seconds, latencies,
                  server_cpu=_cpu_between(before, cpu_seconds(servers)))


def summary(values: list[float]) -> tuple[float, float]:
    """Return (p50, p99) in milliseconds of VALUES given in seconds."""
    data = sorted(values)
    return (statistics.median(data) * 1000, data[int(0.99 * (len(data) - 1))] * 1000)
