"""The revocation guarantee under load, on real SQLite and PostgreSQL over real HTTP.

Threads ask for decisions without pause while the patient revokes. No decision that *starts*
after the revoke call has returned may say permit: the revoke commits before it answers and
every decision reads committed state, with no cache in between.
"""
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from tests.support.servers import serving_thread

THREADS = 8
ROUNDS = 3


@pytest.fixture
def server(service_apps, database_url):
    app = service_apps.consent(database_url, testing=False, contract_checks="off").app
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = serving_thread(httpd)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _decisions(base, headers, patient, stop, log):
    session = requests.Session()
    body = {"patient": patient, "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]}
    while not stop.is_set():
        started = time.perf_counter()
        resp = session.post(f"{base}/consent/v1/decisions", json=body, headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text
        log.append((started, time.perf_counter(), resp.json()["decision"]))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_decision_started_after_the_revoke_returned_says_permit(server, mint, round_):
    patient = f"pat-load-{round_}"
    me = mint.patient(patient, scope="patient/Consent.cruds")
    dept = mint.department("cardiology", "system/Consent.r")
    created = requests.post(f"{server}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert created.status_code == 201, created.text
    stop, log = threading.Event(), []
    workers = [threading.Thread(target=_decisions, args=(server, dept, patient, stop, log))
               for _ in range(THREADS)]
    for w in workers:
        w.start()
    time.sleep(0.4)
    revoke_sent = time.perf_counter()
    revoked = requests.delete(f"{server}/patient/v1/consents/{created.json()['id']}", headers=me, timeout=30)
    revoke_returned = time.perf_counter()
    assert revoked.status_code == 200
    time.sleep(0.4)
    stop.set()
    for w in workers:
        w.join(timeout=30)

    late_permits = [entry for entry in log if entry[0] > revoke_returned and entry[2] == "permit"]
    assert late_permits == []
    assert any(d == "permit" and end < revoke_sent for _s, end, d in log), "no permit before the revoke"
    assert sum(1 for start, _e, _d in log if start > revoke_returned) >= THREADS, "too few late decisions"
