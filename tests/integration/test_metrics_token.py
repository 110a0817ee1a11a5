"""METRICS_TOKEN: with it, /metrics answers only a scraper that sends it (the gateway's /metrics is
reachable from outside), and the console's dashboard sends it when it reads the services'."""
from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask, request
from werkzeug.serving import make_server

from services.common.config import load_settings
from tests.integration.test_gateway_console_measures import signed_in
from tests.support.broker import free_port

TOKEN = "scrape-0f6c1d9e2b"


@pytest.fixture(scope="module")
def consent_metrics():
    """A stand-in for consent's /metrics on real HTTP that keeps the Authorization header it got."""
    app, seen = Flask(__name__), []

    @app.get("/metrics")
    def metrics():
        seen.append(request.headers.get("Authorization"))
        return "# TYPE phr_outbox_pending_events gauge\nphr_outbox_pending_events{service=\"consent\"} 7.0\n"

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}", seen
    server.shutdown()


@pytest.fixture
def gw_settings(consent_metrics):
    unused = "http://127.0.0.1:9"
    return {"metrics_token": TOKEN, "peers": {"gateway": "http://127.0.0.1:9", "records": unused,
                                              "consent": consent_metrics[0], "exchange": unused}}


@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN])
def test_without_the_token_metrics_answers_401_and_shows_nothing(gw, sent):
    got = requests.get(gw.url + "/metrics", headers={"Authorization": sent} if sent else {}, timeout=10)
    assert got.status_code == 401 and got.headers["Content-Type"].startswith("application/problem+json")
    assert got.headers["WWW-Authenticate"].startswith("Bearer") and "phr_" not in got.text


def test_the_refusal_is_in_the_callers_language(gw):
    got = requests.get(gw.url + "/metrics", headers={"Accept-Language": "es"}, timeout=10)
    assert got.status_code == 401 and got.headers["Content-Language"] == "es"


def test_with_the_token_metrics_answers(gw):
    got = requests.get(gw.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert got.status_code == 200 and "http_requests_total" in got.text


def test_the_dashboard_sends_the_token_when_it_reads_a_services_metrics(gw, clock, consent_metrics):
    _url, seen = consent_metrics
    seen.clear()
    page = signed_in(gw, clock, ("quality",), "q.metrics").get(gw.url + "/console/measures", timeout=30)
    assert page.status_code == 200
    assert seen == [f"Bearer {TOKEN}"]
    assert "consent" in page.text and ">7<" in page.text.replace(" ", "")


@pytest.mark.parametrize("service", ["consent", "records", "exchange"])
def test_each_services_metrics_needs_the_token_too(service_apps, database_url, service):
    client = getattr(service_apps, service)(database_url, metrics_token=TOKEN).client
    for sent in (None, "Bearer wrong", f"Basic {TOKEN}"):
        refused = client.get("/metrics", headers={"Authorization": sent} if sent else {})
        assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"
        assert "phr_" not in refused.get_data(as_text=True)
    for scheme in ("Bearer", "bearer"):  # the scheme's case does not matter (RFC 9110, 11.1)
        assert client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes need no token


@pytest.mark.parametrize("env,token", [
    ({}, None),
    ({"METRICS_TOKEN": "a"}, "a"),
    ({"METRICS_TOKEN": " a \n"}, "a"),
    ({"METRICS_TOKEN": "  "}, None),
    ({"METRICS_TOKEN_FILE": "FILE"}, "from-file"),
])
def test_the_token_comes_from_metrics_token_or_the_file_metrics_token_file_names(tmp_path, env, token):
    secret = tmp_path / "metrics-token"
    secret.write_text("from-file\nignored\n")
    env = {k: (str(secret) if v == "FILE" else v) for k, v in env.items()}
    assert load_settings("consent", env).metrics_token == token


@pytest.mark.parametrize("content", [None, "", "\n  \n"])
def test_a_metrics_token_file_that_is_missing_or_empty_stops_the_process_rather_than_leave_metrics_open(
        tmp_path, content):
    path = tmp_path / "metrics-token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match="METRICS_TOKEN_FILE"):
        load_settings("gateway", {"METRICS_TOKEN_FILE": str(path)})
