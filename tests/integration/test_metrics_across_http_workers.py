"""/metrics of an HTTP process with two granian workers (services/common/serve.py) counts every
request, whichever worker served it, and shows the collectors read at scrape time once."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from launcher.migrate import PACKAGES
from services.common.db import migrate
from tests.support.broker import free_port, wait_port
from tests.support.metrics import families, scrape, value

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def consent_two_workers(tmp_path, broker):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url, PACKAGES["consent"].MIGRATIONS_DIR)
    port = free_port()
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "PHR_VAR_DIR": str(tmp_path), "WEB_CONCURRENCY": "2",
           "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "services.common.serve", f"127.0.0.1:{port}",
                             "services.consent.entrypoints.http:create_app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _workers(proc) -> set[int]:
    """The pids of the server's worker processes (its children)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return {int(pid) for pid in children}


def test_metrics_of_a_two_worker_process_count_every_request_and_each_collector_once(consent_two_workers):
    base, proc = consent_two_workers
    n = 60
    for _ in range(n):  # a new connection each time: granian's workers share the listening socket
        assert requests.get(f"{base}/healthz", timeout=10, headers={"Connection": "close"}).status_code == 200
    assert len(_workers(proc)) == 2

    text = scrape(base)
    assert value(text, "http_requests_total", route="/healthz", status="200") == n
    names = [f.name for f in families(text)]
    for name in ("outbox_parked_events", "phr_outbox_pending_events", "http_requests",
                 "phr_consumer_lag_messages", "phr_decision_duration_seconds"):
        assert names.count(name) == 1, name
    # The scrape itself was counted by one worker; a second scrape reads it from the files.
    assert value(scrape(base), "http_requests_total", route="/metrics") >= 1


def test_a_metrics_directory_given_to_the_server_is_emptied_when_it_starts(tmp_path, broker):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url, PACKAGES["consent"].MIGRATIONS_DIR)
    given = tmp_path / "metrics-http"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"left by an earlier run")
    port = free_port()
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "PHR_VAR_DIR": str(tmp_path), "WEB_CONCURRENCY": "2",
           "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "PYTHONPATH": str(ROOT),
           "PROMETHEUS_MULTIPROC_DIR": str(given)}
    proc = subprocess.Popen([sys.executable, "-m", "services.common.serve", f"127.0.0.1:{port}",
                             "services.consent.entrypoints.http:create_app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=60)
        for _ in range(5):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        text = scrape(f"http://127.0.0.1:{port}")
        assert value(text, "http_requests_total", route="/healthz") == 5  # nothing kept from before
        assert not (given / "counter_1.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_preferred_language_ratio_of_a_two_worker_process_counts_every_workers_responses(consent_two_workers):
    base, proc = consent_two_workers
    # "en" is served in English; "x-foo" (a private tag) asks for no language we have, so it is
    # served in the fallback, English, and counted under "en" too: 3 preferred for every fallback.
    asked = ["en", "en", "en", "x-foo"] * 15
    for language in asked:  # unsigned: 401, still a patient-facing response in a language
        resp = requests.get(f"{base}/patient/v1/consents", timeout=10,
                            headers={"Accept-Language": language, "Connection": "close"})
        assert resp.status_code == 401
    assert len(_workers(proc)) == 2

    for _ in range(6):  # each scrape on a new connection, taken by either worker: all agree
        text = scrape(base)
        assert value(text, "phr_patient_responses_total", language="en") == len(asked)
        assert value(text, "phr_preferred_language_ratio", language="en") == 0.75
