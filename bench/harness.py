"""What benchmark sections share: result rows, the run context, the ceiling and the broker probe."""
from __future__ import annotations

import math
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import requests

from bench import load
from services.common import kafka, serve
from bench.stack import IMPORT_ROOT, Stack, free_port, wait_port


@dataclass
class Row:
    """One line of the table: a rate per second and latencies in milliseconds."""

    label: str
    rate: float
    p50: float
    p99: float
    errors: int = 0
    cpu_ms: float = float("nan")  # CPU of the serving processes per request

    @classmethod
    def of(cls, label: str, result: load.Result) -> "Row":
        return cls(label, result.rps, result.percentile(0.5), result.percentile(0.99), result.errors,
                   result.cpu_ms)

    def as_dict(self) -> dict:
        return {"label": self.label, "rate": self.rate, "p50_ms": self.p50, "p99_ms": self.p99,
                "errors": self.errors, "server_cpu_ms": None if math.isnan(self.cpu_ms) else self.cpu_ms}


def department_token(stack: Stack, name: str) -> str:
    """Return a new client-credentials access token of STACK's demo department NAME."""
    creds = stack.credentials()["departments"][name]
    resp = requests.post(f"{stack.gateway}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(creds["client_id"], creds["client_secret"]), timeout=60)
    resp.raise_for_status()
    return resp.json()["access_token"]


@dataclass
class Context:
    """What every section may use: the running stack, the load settings, shared results."""

    stack: Stack
    seconds: float
    concurrency: int
    messages: int
    quick: bool = False  # skip the long sections (growth)
    ceiling: load.Result | None = None
    gunicorn: load.Result | None = None  # the same bare endpoint under gunicorn, for reference
    notes: list[str] = field(default_factory=list)
    _tokens: dict = field(default_factory=dict)

    def department_token(self, name: str = "primary-care") -> str:
        """Return a client-credentials access token of a demo department (cached)."""
        if name not in self._tokens:
            self._tokens[name] = department_token(self.stack, name)
        return self._tokens[name]

    def servers(self, *services: str) -> list[int]:
        """Return the process ids of these services' HTTP servers in the stack (the serving processes)."""
        return [pid for name in services for pid in load.listening_pids(self.stack.ports[name])]

    def cpu_ratio(self, label: str, result: load.Result) -> None:
        """Note RESULT's server CPU per request against the ceiling's: the throughput ratio the
        servers would reach with the cores to themselves, and far steadier on a shared machine."""
        if self.ceiling is None or math.isnan(result.cpu_ms) or math.isnan(self.ceiling.cpu_ms):
            return
        self.notes.append(f"{label}, by server CPU per request: **{self.ceiling.cpu_ms / result.cpu_ms:.2f}** "
                          f"({self.ceiling.cpu_ms:.2f} ms for the ceiling, {result.cpu_ms:.2f} ms here).")

    def against_ceiling(self, label: str, result: load.Result, goal: float) -> None:
        """Note RESULT's rate as a ratio to the ceiling against GOAL, and to gunicorn's for reference
        (without a ceiling, ``--no-core``, a note that it was not measured)."""
        if self.ceiling is None:
            self.notes.append(f"{label}: not measured (no ceiling: --no-core; target {goal:.2f}).")
            return
        self.target(label, result.rps / self.ceiling.rps, goal)
        if self.gunicorn is not None:
            self.notes.append(f"{label}, against the bare endpoint under gunicorn instead: "
                              f"{result.rps / self.gunicorn.rps:.2f} (for reference only).")

    def target(self, label: str, ratio: float, goal: float) -> None:
        """Record a ratio against its target as a note under the table."""
        self.notes.append(f"{label}: **{ratio:.2f}** (target {goal:.2f} or better: "
                          f"{'met' if ratio >= goal else 'NOT met'}).")


def start_ceiling(env: dict, server: str = "services") -> tuple[subprocess.Popen, str]:
    """Serve the bare endpoint as the services are served, or (SERVER "gunicorn") under gunicorn
    with the settings the services had until 2026-12-02 (gthread, 4 threads a worker)."""
    port = free_port()
    command = (["-m", "services.common.serve", f"127.0.0.1:{port}", "bench.ceiling:create_app"]
               if server == "services" else
               ["-m", "gunicorn", "--worker-class", "gthread", "--threads", "4", "--keep-alive", "5",
                "--workers", env.get("WEB_CONCURRENCY") or str(serve.DEFAULT_WORKERS), "--bind", f"127.0.0.1:{port}",
                "--no-control-socket", "bench.ceiling:create_app()"])
    proc = subprocess.Popen([sys.executable, *command],
                            cwd=IMPORT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port("127.0.0.1", port)
    return proc, f"http://127.0.0.1:{port}/ping"


def broker_round_trip(bootstrap: str, count: int) -> load.Result:
    """Produce one message, wait until the consumer sees it, COUNT times in a row."""
    topic = f"bench.rtt.{uuid.uuid4().hex[:6]}"
    kafka.ensure_topics(bootstrap, [topic])
    producer = kafka.producer(bootstrap, client_id="bench")
    consumer = kafka.consumer(bootstrap, f"bench-{uuid.uuid4().hex[:6]}", [topic], fetch_max_wait_ms=5)
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    latencies, errors, started = [], 0, time.perf_counter()
    for i in range(count):
        payload = str(i).encode()
        t0 = time.perf_counter()
        producer.send(topic, key=b"k", value=payload)
        producer.flush()
        got, deadline = False, t0 + 5
        while not got and time.perf_counter() < deadline:
            for messages in consumer.poll(timeout_ms=50).values():
                got = got or any(m.value == payload for m in messages)
        if got:
            latencies.append(time.perf_counter() - t0)
        else:
            errors += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    producer.close()
    return load.Result("broker", len(latencies), errors, elapsed, latencies)
