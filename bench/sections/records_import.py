"""Import throughput: POST /fhir through the gateway in resources per second, against the
validation ceiling (fhir.resources R4B validating the same bundles, one process) measured in
the same run. Target: 0.7 of the ceiling or better."""
from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from pathlib import Path

import requests

from bench import load
from bench.harness import Context, Row
from services.records.domain.bundle import validate_resource

#: Synthea bundles kept with the tests (not shipped in the package): the bench runs from the
#: checkout, as `make bench` does, or from wherever PHR_BENCH_SYNTHEA points.
SYNTHEA = Path(os.environ.get("PHR_BENCH_SYNTHEA", "tests/data/synthea-r4"))
PATIENTS = ("Liz_Conn", "Gustavo_Mejia", "Buster_Hoeger", "Luigi_Wiegand", "Ned_Hintz")
CONCURRENCY = 4
TARGET = 0.7


def _templates() -> list[tuple[str, list[str], int]]:
    """(bundle text, ids to renew, resource count) for each patient bundle used."""
    out = []
    for name in PATIENTS:
        text = next(SYNTHEA.glob(f"{name}_*.json")).read_text()
        entries = json.loads(text)["entry"]
        out.append((text, [e["resource"]["id"] for e in entries], len(entries)))
    return out


def fresh(template: tuple[str, list[str], int]) -> bytes:
    """Return the bundle with every resource id (and the urn:uuid references to it) renewed."""
    text, ids, _ = template
    for rid in ids:
        text = text.replace(rid, str(uuid.uuid4()))
    return text.encode()


def validation_ceiling(templates, seconds: float) -> load.Result:
    """Validate the bundles' resources with fhir.resources R4B in this process, for SECONDS."""
    bundles = [json.loads(t[0]) for t in templates]
    for b in bundles:  # warm up: model classes are built on first use
        for e in b["entry"]:
            validate_resource(e["resource"], "x")
    count, latencies, started, cpu = 0, [], time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for b in bundles:
            t0 = time.perf_counter()
            for e in b["entry"]:
                validate_resource(e["resource"], "x")
            latencies.append(time.perf_counter() - t0)
            count += len(b["entry"])
    return load.Result("validation", count, 0, time.perf_counter() - started, latencies,
                       server_cpu=time.process_time() - cpu)


def post_import(gateway: str, token: str, templates, seconds: float, concurrency: int,
                servers: list[int] | None = None) -> load.Result:
    """POST fresh bundles from CONCURRENCY threads for SECONDS; count the resources stored."""
    per_thread = max(8, int(seconds * 12))
    queues = [[(fresh(templates[(i + j) % len(templates)]), templates[(i + j) % len(templates)][2])
               for j in range(per_thread)] for i in range(concurrency)]
    lock, latencies, totals = threading.Lock(), [], {"resources": 0, "errors": 0}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    stop_at = [0.0]

    def worker(queue):
        session, mine, stored, errors = requests.Session(), [], 0, 0
        for body, n in queue:
            if time.perf_counter() >= stop_at[0]:
                break
            t0 = time.perf_counter()
            resp = session.post(f"{gateway}/fhir", data=body, headers=headers, timeout=120)
            if resp.status_code == 200:
                stored += n
                mine.append(time.perf_counter() - t0)
            else:
                errors += 1
        with lock:
            latencies.extend(mine)
            totals["resources"] += stored
            totals["errors"] += errors

    started, cpu = time.perf_counter(), load.cpu_seconds(servers)
    stop_at[0] = started + seconds
    threads = [threading.Thread(target=worker, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = load.cpu_seconds(servers)
    return load.Result("import", totals["resources"], totals["errors"], time.perf_counter() - started, latencies,
                       server_cpu=None if cpu is None or after is None else after - cpu)


def run(ctx: Context) -> list[Row]:
    templates = _templates()
    token = ctx.department_token("primary-care")
    gateway = ctx.stack.gateway
    requests.post(f"{gateway}/fhir", data=fresh(templates[0]), timeout=120,  # warm the service's models
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
                  ).raise_for_status()
    print("bench: fhir.resources validation ceiling (one process) ...", flush=True)
    ceiling = validation_ceiling(templates, ctx.seconds)
    print(f"bench: POST /fhir through the gateway, {CONCURRENCY} clients ...", flush=True)
    imported = post_import(gateway, token, templates, ctx.seconds, CONCURRENCY, ctx.servers("gateway", "records"))
    ctx.target("Import through the gateway / validation ceiling (resources/s)", imported.rps / ceiling.rps, TARGET)
    if not math.isnan(imported.cpu_ms):
        ctx.notes.append("Import / validation ceiling, by CPU per resource (gateway and records servers "
                         f"against the validating process): **{ceiling.cpu_ms / imported.cpu_ms:.2f}** "
                         f"({ceiling.cpu_ms:.2f} ms against {imported.cpu_ms:.2f} ms); the import may use "
                         "both cores, the ceiling one, so the throughput ratio can exceed this one.")
    ctx.notes.append("Import rows are resources per second; p50/p99 are per bundle "
                     f"({sum(t[2] for t in templates) / len(templates):.0f} resources on average), "
                     "server CPU per resource.")
    return [Row.of("fhir.resources R4B validation of the same bundles, one process (ceiling)", ceiling),
            Row.of(f"POST /fhir transaction Bundles through the gateway ({CONCURRENCY} clients)", imported)]
