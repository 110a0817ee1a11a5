"""The broker stops during a batch of exchange requests: every request completes once it is back,
none is lost, none is released twice.

The embedded broker keeps messages in memory only, so the broker that comes back is empty: what
the services had not had acknowledged is published again from their outboxes, and what was
acknowledged but not yet consumed is driven again by the exchange sweeper (a pending request
whose step is overdue is asked again). Topics are created again as an operator would
(``kafka.ensure_topics``), since a fresh broker has none.
"""
import time

import pytest
import requests
import sqlalchemy as sa

from services.common import kafka
from services.common.db import make_engine
from services.exchange.adapters.tables import exchange_requests, ledger
from tests.support.broker import Broker
from tests.support.client import Department, patient_login
from tests.support.stack import Stack

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory):
    """A stack of this module's own, on a broker the test may stop."""
    broker = Broker().start()
    try:
        with Stack(tmp_path_factory.mktemp("exchange-outage"),
                   extra_env={"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}) as stack:
            yield stack, broker
    finally:
        broker.stop()


def _consent(stack) -> tuple[str, Department]:
    creds = stack.credentials()
    who, portal = creds["patients"][0], creds["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"],
                          who["username"], who["password"], scope=SCOPE)
    resp = requests.post(f"{stack.gateway}/patient/v1/consents", timeout=10,
                         headers={"Authorization": f"Bearer {token['access_token']}"},
                         json={"grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert resp.status_code == 201, resp.text
    d = creds["departments"]["cardiology"]
    return who["patient"], Department(stack.gateway, d["client_id"], d["client_secret"])


def _ask(dept, patient) -> str:
    resp = dept.post("/exchange/v1/requests", json={"patient": patient, "purpose": "TREAT",
                                                    "resource_types": ["Observation"]})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_a_batch_survives_a_broker_outage_and_each_request_is_released_exactly_once(outage_stack):
    stack, broker = outage_stack
    patient, cardiology = _consent(stack)
    ids = [_ask(cardiology, patient) for _ in range(10)]
    broker.stop()
    # Stopping the broker can outlast the gateway's 5 s keep-alive: start on new connections
    # rather than race the server closing the idle one (a reset, not what this test is about).
    cardiology.session.close()
    ids += [_ask(cardiology, patient) for _ in range(10)]  # accepted: stored with their outbox events
    time.sleep(5)
    cardiology.session.close()
    during = [cardiology.get(f"/exchange/v1/requests/{i}").json()["status"] for i in ids[10:]]
    assert during == ["pending"] * 10, "without the broker nothing moves (the outage is real)"
    broker.start()
    kafka.ensure_topics(broker.bootstrap)
    cardiology.session.close()

    deadline, statuses = time.monotonic() + 150, {}
    while time.monotonic() < deadline:
        try:
            statuses = {i: cardiology.get(f"/exchange/v1/requests/{i}").json()["status"] for i in ids}
        except requests.ConnectionError:
            # Seen once in a full run on a loaded machine: a reset of the polling connection
            # right after the broker came back (not reproduced alone). What this test is about
            # is the requests' outcome, so the next round asks again on a new connection.
            cardiology.session.close()
            time.sleep(1)
            continue
        if "pending" not in statuses.values():
            break
        time.sleep(1)
    assert set(statuses.values()) == {"fulfilled"}, (statuses, stack.log_tail())

    engine = make_engine(stack.database_url("exchange"))
    try:
        with engine.connect() as conn:
            entries = conn.execute(sa.select(ledger.c.request_id)).scalars().all()
            seqs = conn.execute(sa.select(exchange_requests.c.ledger_seq)
                                .where(exchange_requests.c.id.in_(ids))).scalars().all()
    finally:
        engine.dispose()
    assert sorted(entries) == sorted(ids), "one ledger entry per request, none twice"
    assert len(set(seqs)) == len(ids)
    assert cardiology.get("/exchange/v1/ledger/verify").json()["valid"]
