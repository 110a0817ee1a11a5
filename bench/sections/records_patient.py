"""The patient's records page (20 plain-language items) through the gateway, with a signed-in patient."""
from __future__ import annotations

import requests

from bench import load
from bench.harness import Context, Row
from contracts.conformance.client import patient_login

GOAL = 0.15  # of the bare-Flask ceiling: a page maps 20 resources and is checked for accessibility


def run(ctx: Context) -> list[Row]:
    stack = ctx.stack
    creds = stack.credentials()
    patient = next((p for p in creds["patients"] if p["language"] == "es"), creds["patients"][0])
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          patient["username"], patient["password"],
                          scope="openid fhirUser offline_access patient/*.rs")["access_token"]
    url = f"{stack.gateway}/patient/v1/records"
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "es"}
    first = requests.get(url, headers=headers, timeout=60)
    first.raise_for_status()
    assert len(first.json()["items"]) == 20, "the default page should hold 20 items"

    print("bench: GET /patient/v1/records (20 items, es) through the gateway ...", flush=True)
    servers = ctx.servers("gateway", "records")
    page = load.run("records-patient", url, headers=headers, concurrency=ctx.concurrency, seconds=ctx.seconds,
                    servers=servers)
    print("bench: the same page with If-None-Match (304) ...", flush=True)
    cached = load.run("records-patient-304", url, headers={**headers, "If-None-Match": first.headers["ETag"]},
                      concurrency=ctx.concurrency, seconds=ctx.seconds, expect=304, servers=servers)
    if ctx.ceiling is not None:
        ctx.against_ceiling("Patient records page / ceiling", page, GOAL)
        ctx.cpu_ratio("Patient records page / ceiling", page)
    ctx.notes.append(f"Patient records page: {len(first.content)} bytes of JSON for 20 items; "
                     "a 304 sends none.")
    return [Row.of("patient GET /patient/v1/records (20 items, es) through the gateway", page),
            Row.of("the same page, If-None-Match -> 304", cached)]
