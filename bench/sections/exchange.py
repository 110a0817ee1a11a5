"""Exchange end to end: from POST /exchange/v1/requests to ``fulfilled``.

Open loop: requests are sent on a fixed schedule (not when the previous one answered), for a
bounded time; each request's latency runs from just before its POST is sent to the moment the
exchange service stored it as fulfilled (read from the exchange database, same clock). The
path it measures: outbox relay -> broker -> exchange worker -> consent decision (HTTP) ->
outbox -> broker -> records worker (claim-check Bundle) -> outbox -> broker -> exchange worker
-> fresh decision -> ledger entry. Next to it, the raw broker round trip, measured again.
"""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone

import requests
import sqlalchemy as sa

from bench import load
from bench.harness import Context, Row, broker_round_trip
from bench.sections.consent import _patient_consent
from services.common import kafka
from services.common.db import make_engine
from services.exchange.adapters.tables import exchange_requests as R
from services.exchange.entrypoints.worker import FETCH_WAIT_MS as FLOW_WAIT_MS
from services.exchange.entrypoints.worker import IDLE_FETCH_WAIT_MS as IDLE_WAIT_MS
from services.records.entrypoints.worker import FETCH_WAIT_MS as RECORDS_WAIT_MS

RATE = 20.0
P50_TARGET_MS, P99_TARGET_MS = 50.0, 200.0
STEPS = (20.0, 40.0, 80.0, 120.0, 160.0, 200.0)
COLD_SAMPLES = 3


def _open_loop(ctx: Context, engine, patient: str, rate: float, seconds: float) -> load.Result:
    """Send RATE requests per second for SECONDS on a fixed schedule; wait for the outcomes."""
    headers = {"Authorization": f"Bearer {ctx.department_token('cardiology')}"}
    url = f"{ctx.stack.gateway}/exchange/v1/requests"
    body = {"patient": patient, "purpose": "TREAT", "resource_types": ["Observation"]}
    local, sent, errors, lock = threading.local(), {}, [0], threading.Lock()

    def send(at: float) -> None:
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        t0 = time.time()
        try:
            resp = session.post(url, json=body, headers=headers, timeout=10)
            ok = resp.status_code == 202
        except requests.RequestException:
            ok = False
        with lock:
            if ok:
                sent[resp.json()["id"]] = t0
            else:
                errors[0] += 1

    count, start = int(rate * seconds), time.perf_counter() + 0.2
    cpu_before = load.cpu_seconds([ctx.stack.proc.pid])  # every process of the stack
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(count):
            pool.submit(send, start + i / rate)
    elapsed_send = time.perf_counter() - start
    done: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(done) < len(sent) and time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(R.c.id, R.c.status, R.c.updated_at)
                                .where(R.c.id.in_(list(sent)), R.c.status != "pending")).all()
        for r in rows:
            if r.status == "fulfilled":
                moment = r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=timezone.utc)
                done[r.id] = moment.timestamp() - sent[r.id]
            else:
                done[r.id] = -1.0
        time.sleep(0.1)
    cpu_after = load.cpu_seconds([ctx.stack.proc.pid])
    latencies = [v for v in done.values() if v >= 0]
    failed = errors[0] + (len(sent) - len(latencies))
    return load.Result(f"exchange@{rate:g}", len(latencies), failed, max(elapsed_send, 1e-9), latencies,
                       server_cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before)


def _after_quiet(ctx: Context, engine, patient: str) -> load.Result:
    """Send COLD_SAMPLES single requests, each once the flow's consumers have gone idle."""
    latencies, errors = [], 0
    for _ in range(COLD_SAMPLES):
        print(f"bench: one exchange request after {kafka.IDLE_AFTER_SECONDS + 1:g} quiet seconds ...", flush=True)
        time.sleep(kafka.IDLE_AFTER_SECONDS + 1)
        one = _open_loop(ctx, engine, patient, 1, 1)
        latencies += one.latencies
        errors += one.errors
    return load.Result("exchange after quiet", len(latencies), errors, 0.0, latencies)


def run(ctx: Context) -> list[Row]:
    patient = _patient_consent(ctx)
    engine = make_engine(ctx.stack.database_url("exchange"))
    try:
        _open_loop(ctx, engine, patient, 5, 2)  # warm-up: tokens, connections, group assignments
        cold = _after_quiet(ctx, engine, patient)
        print(f"bench: exchange open loop at {RATE:g}/s for {ctx.seconds:g} s ...", flush=True)
        steady = _open_loop(ctx, engine, patient, RATE, ctx.seconds)
        rows = [Row(f"exchange request -> fulfilled, open loop at {RATE:g}/s", steady.rps,
                    steady.percentile(0.5), steady.percentile(0.99), steady.errors, steady.cpu_ms)]
        best = None
        for rate in STEPS:
            print(f"bench: exchange open loop at {rate:g}/s (finding the sustained rate) ...", flush=True)
            step = steady if rate == RATE else _open_loop(ctx, engine, patient, rate, max(ctx.seconds / 2, 3))
            kept_up = step.errors == 0 and step.percentile(0.99) <= 1000.0
            if not kept_up:
                rows.append(Row(f"exchange at {rate:g}/s offered (did not keep up)", step.rps,
                                step.percentile(0.5), step.percentile(0.99), step.errors, step.cpu_ms))
                break
            best = (rate, step)
        if best:
            rate, step = best
            rows.append(Row(f"exchange max sustained rate ({rate:g}/s offered, all fulfilled, p99 <= 1 s)",
                            step.rps, step.percentile(0.5), step.percentile(0.99), step.errors, step.cpu_ms))
        rows.append(Row(f"exchange request after {kafka.IDLE_AFTER_SECONDS:g} s without any ({COLD_SAMPLES} "
                        "samples; the flow's consumers on their idle fetch wait)", math.nan,
                        cold.percentile(0.5), cold.percentile(0.99), cold.errors))
    finally:
        engine.dispose()
    print("bench: broker round trip again (for comparison) ...", flush=True)
    broker = broker_round_trip(ctx.stack.bootstrap, min(ctx.messages, 200))
    rows.append(Row.of("kafka-python produce-to-consume round trip (sequential)", broker))
    p50, p99 = steady.percentile(0.5), steady.percentile(0.99)
    ctx.notes.append(f"Exchange at {RATE:g}/s: p50 {p50:.0f} ms (target {P50_TARGET_MS:.0f}: "
                     f"{'met' if p50 <= P50_TARGET_MS else 'NOT met'}), p99 {p99:.0f} ms (target "
                     f"{P99_TARGET_MS:.0f}: {'met' if p99 <= P99_TARGET_MS else 'NOT met'}); "
                     f"{steady.errors} not fulfilled. The path has three broker hops and two decisions.")
    ctx.notes.append(f"Exchange request after {kafka.IDLE_AFTER_SECONDS:g} quiet seconds: "
                     f"{', '.join(f'{v * 1000:.0f}' for v in cold.latencies)} ms. While requests come, the flow's "
                     f"two consumers ask the broker for data every {FLOW_WAIT_MS} and {RECORDS_WAIT_MS} ms; "
                     f"once idle that long, every {IDLE_WAIT_MS} ms, which the first request after a quiet "
                     "spell pays on its two cross-process hops.")
    ctx.notes.append("Exchange rows are open loop: the rate column is the completed requests per second "
                     "of sending time; a step that leaves requests unfinished or p99 over 1 s ends the search. "
                     "Their CPU column is the whole stack's (every process the launcher started, the broker "
                     "too) per fulfilled request, from the first request sent to the last outcome read.")
    return rows
