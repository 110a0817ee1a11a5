"""Past its rate limit the gateway still answers every request on a kept-alive connection.

Before refused bodies were read, keep-alive clients posting past the limit lost about one
request in a thousand with no answer at all (RemoteDisconnected, BrokenPipeError): a refusal
that did not read the request's body left the server to close the connection under the next
request.
"""
from __future__ import annotations

import collections
import http.client
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from services.common.db import make_engine
from tests.support.client import Department
from tests.support.gateway import department

CLIENTS = 4
SECONDS = 5.0
MAX_REQUESTS = 6000  # per client: the loop ends at whichever comes first


@pytest.fixture(scope="module")
def probe(stack) -> tuple[str, Department]:
    """A department client of its own, so that spending its whole budget slows no other test."""
    engine = make_engine(stack.database_url("gateway"))
    try:
        name = f"overload-probe-{uuid.uuid4().hex[:8]}"
        created = department(engine, name, "system/Consent.r")
    finally:
        engine.dispose()
    return name, Department(stack.gateway, name, created["client_secret"])


def _drive(gateway: str, token: str, body: bytes, tally: collections.Counter) -> None:
    """Post BODY on one kept-alive connection until the time or the count runs out; count
    every answer by status and every request that got none by the error it raised."""
    address = urlsplit(gateway)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    conn, deadline = connect(), time.monotonic() + SECONDS
    for _ in range(MAX_REQUESTS):
        if time.monotonic() > deadline:
            break
        try:
            conn.request("POST", "/consent/v1/decisions", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (http.client.HTTPException, OSError) as exc:
            tally["unanswered"] += 1
            tally[type(exc).__name__] += 1
            conn.close()
            conn = connect()
            continue
        tally[resp.status] += 1
        if resp.status == 429 and not resp.getheader("Retry-After", "").isdigit():
            tally["429 without Retry-After"] += 1
        if resp.will_close:  # the server said so in its answer: a new connection is fair
            conn.close()
            conn = connect()
    conn.close()


def test_keep_alive_clients_past_the_rate_limit_get_an_answer_to_every_request(stack, probe):
    name, department = probe
    # A patient no one knows: the decisions let through before the limit change nothing.
    body = json.dumps({"patient": str(uuid.uuid4()), "actor": name, "purpose": "TREAT",
                       "classes": ["Observation"]}).encode()
    tallies = [collections.Counter() for _ in range(CLIENTS)]
    threads = [threading.Thread(target=_drive, args=(stack.gateway, department.token, body, tally))
               for tally in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 30)
    total = sum(tallies, collections.Counter())
    assert total[429] > 500, f"the limit was not reached: {dict(total)}"
    assert total["unanswered"] == 0, f"requests closed without an answer: {dict(total)}"
    assert total["429 without Retry-After"] == 0, dict(total)
