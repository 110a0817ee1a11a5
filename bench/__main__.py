"""``make bench``: the walking skeleton's figures, each measured in the same run.

1. ceiling: a bare Flask endpoint under gunicorn (same gunicorn settings as the services);
2. broker: the raw kafka-python produce-to-consume round trip on the stack's broker;
3. gateway read: an authenticated ``GET /fhir/Observation/{id}`` through the gateway,
   as requests per second, p50 and p99, and its ratio to the ceiling (target: 0.30 or better).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests

from bench import load
from services.common import kafka
from tests.support.broker import free_port, wait_port
from tests.support.fhir import demo_bundle
from tests.support.stack import ROOT, Stack

RESULTS = ROOT / "bench" / "results"


def start_ceiling(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "services/common/gunicorn_conf.py",
                             "--bind", f"127.0.0.1:{port}", "bench.ceiling:create_app()"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per HTTP target")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--messages", type=int, default=500, help="broker round trips")
    args = parser.parse_args(argv)

    var_dir = Path(tempfile.mkdtemp(prefix="phr-bench-"))
    stack = Stack(var_dir, extra_env={"WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
                                      "RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000"})
    print(f"bench: starting the stack in {var_dir} ...", flush=True)
    stack.start()
    ceiling_proc = None
    try:
        creds = stack.credentials()["departments"]["primary-care"]
        token = requests.post(f"{stack.gateway}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(creds["client_id"], creds["client_secret"]), timeout=10).json()["access_token"]
        bundle = demo_bundle("Liz_Conn")
        obs = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
        target = f"{stack.gateway}/fhir/Observation/{obs}"
        check = requests.get(target, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        check.raise_for_status()

        ceiling_proc, ceiling_url = start_ceiling(stack.env)
        print(f"bench: ceiling (bare Flask under gunicorn), {args.concurrency} clients, {args.seconds:.0f} s ...", flush=True)
        ceiling = load.run("ceiling", ceiling_url, concurrency=args.concurrency, seconds=args.seconds)
        ceiling_proc.terminate()
        ceiling_proc.wait(timeout=10)
        ceiling_proc = None
        print(f"bench: broker round trip x{args.messages} ...", flush=True)
        broker = broker_round_trip(stack.bootstrap, args.messages)
        print(f"bench: GET /fhir/Observation/{{id}} through the gateway, {args.concurrency} clients ...", flush=True)
        gateway = load.run("gateway", target, headers={"Authorization": f"Bearer {token}"},
                           concurrency=args.concurrency, seconds=args.seconds)
    finally:
        if ceiling_proc:
            ceiling_proc.terminate()
        stack.stop()

    rows = [("bare Flask endpoint under gunicorn (ceiling)", ceiling),
            ("kafka-python produce-to-consume round trip (sequential)", broker),
            ("authenticated GET /fhir/Observation/{id} through the gateway", gateway)]
    ratio = gateway.rps / ceiling.rps if ceiling.rps else 0.0
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
             f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per HTTP target.", "",
             "| what | requests/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|"]
    for label, r in rows:
        lines.append(f"| {label} | {r.rps:,.0f} | {r.percentile(0.5):.1f} | {r.percentile(0.99):.1f} | {r.errors} |")
    lines += ["", f"Gateway read / ceiling: **{ratio:.2f}** (target 0.30 or better: "
                  f"{'met' if ratio >= 0.30 else 'NOT met'})."]
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(json.dumps({
        r.name: {"rps": r.rps, "p50_ms": r.percentile(0.5), "p99_ms": r.percentile(0.99), "errors": r.errors}
        for _, r in rows} | {"ratio_gateway_to_ceiling": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
