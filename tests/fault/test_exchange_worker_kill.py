"""A second exchange worker is killed (SIGKILL) while a batch flows: the other resumes its share,
every request is released exactly once."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from gateway.admin.clients import ensure_service_client
from services.common.db import make_engine
from services.exchange.adapters.tables import ledger
from tests.support.client import Department, patient_login
from tests.support.stack import ROOT, Stack

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Consent must trust the second worker's client too: it asks about the requesting department.
    trusted = {"CONSENT_DECISION_CLIENTS": "exchange-service,exchange-service-2"}
    with Stack(tmp_path_factory.mktemp("exchange-kill"), extra_env=trusted) as s:
        yield s


def _extra_worker(stack) -> subprocess.Popen:
    engine = make_engine(stack.database_url("gateway"))
    try:
        client = ensure_service_client(engine, "exchange-service-2", "system/Consent.r")
    finally:
        engine.dispose()
    env = {**stack.env, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "PYTHONPATH": str(ROOT),
           "EXCHANGE_CLIENT_ID": client["client_id"], "EXCHANGE_CLIENT_SECRET": client["client_secret"]}
    return subprocess.Popen([sys.executable, "-m", "services.exchange.entrypoints.worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killing_a_worker_mid_batch_loses_nothing_and_duplicates_nothing(stack):
    creds = stack.credentials()
    who, portal = creds["patients"][2], creds["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"],
                          who["username"], who["password"], scope=SCOPE)
    assert requests.post(f"{stack.gateway}/patient/v1/consents", timeout=10,
                         headers={"Authorization": f"Bearer {token['access_token']}"},
                         json={"grantee": "cardiology", "purposes": ["TREAT"],
                               "classes": ["Observation"]}).status_code == 201
    d = creds["departments"]["cardiology"]
    cardiology = Department(stack.gateway, d["client_id"], d["client_secret"])
    worker = _extra_worker(stack)
    try:
        time.sleep(8)  # the group rebalances: both workers now own partitions
        assert worker.poll() is None
        ids: list[str] = []

        def ask(n):
            for _ in range(n):
                resp = cardiology.post("/exchange/v1/requests", json={
                    "patient": who["patient"], "purpose": "TREAT", "resource_types": ["Observation"]})
                ids.append(resp.json()["id"])
                time.sleep(0.05)

        sender = threading.Thread(target=ask, args=(30,))
        sender.start()
        time.sleep(0.8)
        os.kill(worker.pid, signal.SIGKILL)  # no clean-up of any kind
        sender.join()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()

    deadline, statuses = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        statuses = {i: cardiology.get(f"/exchange/v1/requests/{i}").json()["status"] for i in ids}
        if "pending" not in statuses.values():
            break
        time.sleep(1)
    assert len(ids) == 30 and set(statuses.values()) == {"fulfilled"}, statuses
    engine = make_engine(stack.database_url("exchange"))
    try:
        with engine.connect() as conn:
            entries = conn.execute(sa.select(ledger.c.request_id).where(ledger.c.request_id.in_(ids))).scalars().all()
    finally:
        engine.dispose()
    assert sorted(entries) == sorted(ids)
    assert cardiology.get("/exchange/v1/ledger/verify").json()["valid"]
