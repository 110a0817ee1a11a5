"""The proxy's fast path (gateway.proxy.fastpath): the common case skips Flask, everything else does not."""
from __future__ import annotations

import json
import socket
import threading

from werkzeug.test import Client
from werkzeug.wrappers import Response

from gateway.app import create_app
from tests.support.apps import behind_fast_path
from tests.support.gateway import bearer, department, department_token

PROBLEM = "application/problem+json"
FHIR = "application/fhir+json"  # errors on /fhir are OperationOutcomes in FHIR's media type


def _count_view_calls(app, endpoint: str) -> list:
    calls: list = []
    view = app.view_functions[endpoint]

    def counted(*args, **kwargs):
        calls.append(1)
        return view(*args, **kwargs)

    app.view_functions[endpoint] = counted
    return calls


def _flask_only(app) -> Client:
    """A client of the same app without the fast path (what the gateway did before it)."""
    return Client(behind_fast_path(app), Response)


def _normal(headers) -> dict:
    """Headers by lower-case name, with Vary's members as a set (Werkzeug merges them into one),
    without the traceresponse (each request's own trace; the tracing middleware adds it, outside both)."""
    out = {k.lower(): v for k, v in headers.items() if k.lower() not in ("vary", "traceresponse")}
    out["vary"] = {m.strip().lower() for v in headers.getlist("Vary") for m in v.split(",")}
    return out


def test_a_request_that_passes_every_check_is_forwarded_without_entering_flask(client, app, engine, upstream):
    calls = _count_view_calls(app, "proxy.fhir_sub")
    token = department_token(client, department(engine))
    resp = client.get("/fhir/Observation/o-1", headers=bearer(token))
    assert resp.status_code == 200 and upstream.requests[-1]["path"] == "/fhir/Observation/o-1"
    assert calls == []


def test_the_fast_path_answers_exactly_as_the_flask_view_does(client, app, engine, upstream):
    upstream.handler = lambda req: Response(b'{"resourceType":"Observation"}', 200, headers={
        "Content-Type": "application/fhir+json", "ETag": 'W/"2"', "Content-Language": "es",
        "Vary": "Origin", "Location": upstream.url + "/fhir/Observation/o-1", "Keep-Alive": "timeout=5"})
    token = department_token(client, department(engine))
    headers = {**bearer(token), "Accept-Language": "es"}
    fast = client.get("/fhir/Observation/o-1?_elements=id", headers=headers)
    slow = _flask_only(app).get("/fhir/Observation/o-1?_elements=id", headers=headers)
    assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data())
    assert _normal(fast.headers) == _normal(slow.headers)
    assert fast.headers["Location"] == "http://gateway.test/fhir/Observation/o-1"
    assert "Keep-Alive" not in fast.headers
    assert "accept-language" in ", ".join(fast.headers.getlist("Vary")).lower()
    assert fast.headers["Content-Language"] == "es"


def test_a_language_is_named_when_the_service_names_none(client, engine, upstream):
    upstream.handler = lambda req: Response(b"{}", 200, content_type="application/json")
    token = department_token(client, department(engine))
    resp = client.get("/fhir/Observation/o-1", headers={**bearer(token), "Accept-Language": "es-MX,en;q=0.5"})
    assert resp.headers["Content-Language"] == "es"
    assert "Accept-Language" in resp.headers["Vary"]


def test_refusals_go_to_flask_and_come_back_as_problems(client, app, engine, upstream):
    calls = _count_view_calls(app, "proxy.fhir_sub")
    resp = client.get("/fhir/Observation/o-1", headers={"Authorization": "Bearer nonsense"})
    assert resp.status_code == 401 and resp.mimetype == FHIR
    token = department_token(client, department(engine, scopes="system/Patient.rs"))
    resp = client.get("/fhir/Observation/o-1", headers=bearer(token))
    assert resp.status_code == 403 and resp.mimetype == FHIR
    resp = client.get("/fhir/Observation/../Patient/p-1", headers=bearer(token))
    assert resp.status_code in (400, 404) and resp.mimetype == FHIR
    assert len(calls) >= 2 and upstream.requests == []


def test_a_post_whose_service_dies_without_answering_is_a_502_and_is_sent_once(gateway_config):
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept_and_drop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                received.append(conn.recv(65536))  # read the request, then hang up

    threading.Thread(target=accept_and_drop, daemon=True).start()
    port = listener.getsockname()[1]
    app = create_app({**gateway_config, "peers": {name: f"http://127.0.0.1:{port}" for name in
                                                 ("consent", "records", "exchange")}})
    client = app.test_client()
    from sqlalchemy import create_engine

    engine = create_engine(gateway_config["database_url"])
    token = department_token(client, department(engine, scopes="system/Exchange.c"))
    resp = client.post("/exchange/v1/requests", data=json.dumps({"patient": "p-1"}),
                       headers={**bearer(token), "Content-Type": "application/json"})
    listener.close()
    assert resp.status_code == 502 and resp.mimetype == PROBLEM
    assert resp.get_json()["status"] == 502
    assert len([r for r in received if r.startswith(b"POST")]) == 1


def test_fast_path_requests_are_counted_in_the_metrics_under_the_proxy_rule(client, engine, upstream):
    token = department_token(client, department(engine))
    for _ in range(3):
        assert client.get("/fhir/Observation/o-1", headers=bearer(token)).status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    line = next(l for l in metrics.splitlines() if l.startswith("http_requests_total{")
                and 'route="/fhir/<path:rest>"' in l and 'method="GET"' in l and 'status="200"' in l)
    assert float(line.rsplit(" ", 1)[1]) >= 3
