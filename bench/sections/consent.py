"""Consent decisions: requests per second and latency, direct and through the gateway.

The consent benchmarked against is made as a patient would: a demo patient signs in through
the portal login (authorization code + PKCE) and POSTs /patient/v1/consents via the gateway.
"""
from __future__ import annotations

import json
import os

import requests

from bench import load
from bench.harness import Context, Row
from contracts.conformance.client import patient_login

# The round-two targets (README, "Benchmarks"): 0.75 of the ceiling, p99 5 ms at 16 clients.
P99_TARGET_MS = 5.0
THROUGHPUT_TARGET = 0.75


def _patient_consent(ctx: Context) -> str:
    """Sign in the first demo patient and grant cardiology their lab results; return the patient id."""
    creds = ctx.stack.credentials()
    who, portal = creds["patients"][0], creds["portal"]
    token = patient_login(ctx.stack.gateway, portal["client_id"], portal["redirect_uri"],
                          who["username"], who["password"],
                          scope="openid fhirUser offline_access patient/*.rs patient/Consent.cruds")
    resp = requests.post(f"{ctx.stack.gateway}/patient/v1/consents", timeout=60,
                         headers={"Authorization": f"Bearer {token['access_token']}"},
                         json={"grantee": "cardiology", "purposes": ["TREAT"],
                               "classes": ["Observation", "Condition"]})
    resp.raise_for_status()
    return who["patient"]


def run(ctx: Context) -> list[Row]:
    patient = _patient_consent(ctx)
    token = ctx.department_token("cardiology")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"patient": patient, "actor": "cardiology", "purpose": "TREAT",
                       "classes": ["Observation"]}).encode()
    direct_url = f"{ctx.stack.url('consent')}/consent/v1/decisions"
    gateway_url = f"{ctx.stack.gateway}/consent/v1/decisions"
    for url in (direct_url, gateway_url):
        answer = requests.post(url, data=body, headers=headers, timeout=60)
        answer.raise_for_status()
        assert answer.json()["decision"] == "permit", answer.text

    print(f"bench: POST /consent/v1/decisions direct, {ctx.concurrency} clients ...", flush=True)
    direct = load.run("consent-direct", direct_url, headers=headers, method="POST", body=body,
                      concurrency=ctx.concurrency, seconds=ctx.seconds, servers=ctx.servers("consent"))
    print("bench: POST /consent/v1/decisions through the gateway ...", flush=True)
    via = load.run("consent-gateway", gateway_url, headers=headers, method="POST", body=body,
                   concurrency=ctx.concurrency, seconds=ctx.seconds, servers=ctx.servers("gateway", "consent"))
    ctx.against_ceiling("Consent decisions direct / ceiling", direct, THROUGHPUT_TARGET)
    ctx.cpu_ratio("Consent decisions direct / ceiling", direct)
    if ctx.ceiling is not None:
        ctx.notes.append(f"Consent decisions through the gateway / ceiling: **{via.rps / ctx.ceiling.rps:.2f}** "
                         "(no target set; for comparison with the gateway read).")
    p99 = direct.percentile(0.99)
    beside = (f"; the bare ceiling's own p99 in this run is {ctx.ceiling.percentile(0.99):.1f} ms"
              if ctx.ceiling is not None else "")
    # Little's law for a closed loop: mean latency = clients / throughput. Even if every
    # request took the same time, a p99 of P99_TARGET_MS needs this many requests per second.
    needed = ctx.concurrency / (P99_TARGET_MS / 1000)
    ctx.notes.append(f"Consent decisions direct p99: **{p99:.1f} ms** (target {P99_TARGET_MS:.0f} ms: "
                     f"{'met' if p99 <= P99_TARGET_MS else 'NOT met'}{beside}). With {ctx.concurrency} clients always "
                     f"waiting, a {P99_TARGET_MS:.0f} ms p99 needs at least {needed:,.0f} decisions/s "
                     f"even at constant latency (Little's law); the servers and the load generator "
                     f"share {os.cpu_count()} cores.")
    return [Row.of("POST /consent/v1/decisions direct (permit, read committed state)", direct),
            Row.of("POST /consent/v1/decisions through the gateway", via)]
