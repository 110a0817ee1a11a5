"""The reverse proxy against a real upstream HTTP server: forwarding, scopes, limits, failures."""
from __future__ import annotations

import gzip
import json
import socket
import time

import pytest
from werkzeug.wrappers import Response

from gateway.app import create_app
from tests.support.gateway import bearer, department, department_token, make_account, patient_tokens

PROBLEM = "application/problem+json"
FHIR = "application/fhir+json"  # errors on /fhir are OperationOutcomes in FHIR's media type


def _problem_type(path: str) -> str:
    return FHIR if path.startswith("/fhir") else PROBLEM
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_department_request_is_forwarded_with_method_path_query_body_and_headers(client, engine, upstream):
    upstream.handler = lambda req: Response(b'{"resourceType":"Bundle"}', 201, headers={
        "Content-Type": "application/fhir+json", "ETag": 'W/"3"', "Connection": "close",
        "Location": upstream.url + "/fhir/Bundle/b1", "X-Upstream": "records"})
    token = department_token(client, department(engine, "primary-care"))
    body = json.dumps({"resourceType": "Bundle", "type": "transaction"}).encode()
    resp = client.post("/fhir?_format=json&x=1%202", data=body, headers={
        **bearer(token), "Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
        "Accept-Language": "es", "If-None-Match": "*", "traceparent": TRACEPARENT,
        "Cookie": "secret=1", "X-Other": "dropped"})
    assert resp.status_code == 201
    assert resp.get_data() == b'{"resourceType":"Bundle"}'
    assert resp.headers["ETag"] == 'W/"3"' and resp.headers["X-Upstream"] == "records"
    assert resp.headers["Location"] == "http://gateway.test/fhir/Bundle/b1"
    assert "Connection" not in resp.headers
    seen = upstream.requests[-1]
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/fhir", "_format=json&x=1%202")
    assert seen["body"] == body
    assert seen["headers"]["Authorization"] == f"Bearer {token}"
    assert seen["headers"]["Accept-Language"] == "es" and seen["headers"]["If-None-Match"] == "*"
    # The gateway's own trace, which it answers with, not the client's (services/common/tracing.py).
    ours = resp.headers["traceresponse"].split("-")[1]
    assert seen["headers"]["Traceparent"].split("-")[1] == ours != "0af7651916cd43dd8448eb211c80319c"
    assert "Cookie" not in seen["headers"] and "X-Other" not in seen["headers"]


def test_a_compressed_upstream_body_is_passed_through_unchanged(client, engine, upstream):
    packed = gzip.compress(b'{"total": 0}')
    upstream.handler = lambda req: Response(packed, 200, headers={
        "Content-Type": "application/fhir+json", "Content-Encoding": "gzip"})
    token = department_token(client, department(engine))
    resp = client.get("/fhir/Observation?patient=p-1", headers={**bearer(token), "Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(resp.get_data()) == b'{"total": 0}'


def test_fhir_metadata_needs_no_token(client, upstream):
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200 and upstream.requests[-1]["path"] == "/fhir/metadata"


@pytest.mark.parametrize("headers,error", [({}, None), ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
                                           ({"Authorization": "Basic abc"}, None)])
def test_a_request_without_a_valid_token_is_a_401_problem(client, upstream, headers, error):
    resp = client.get("/fhir/Patient/p-1", headers=headers)
    assert resp.status_code == 401 and resp.mimetype == FHIR
    assert resp.json["status"] == 401 and resp.json["type"].startswith("https://")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    if error:
        assert error in resp.headers["WWW-Authenticate"]
    assert upstream.requests == []


@pytest.mark.parametrize("dept,method,path", [
    ("research", "GET", "/fhir/Patient/p-1"),          # research has no system/*.rs
    ("cardiology", "POST", "/fhir"),                   # transaction needs system/*.c
    ("cardiology", "POST", "/consent/v1/break-glass"), # only emergency has system/BreakGlass.c
    ("primary-care", "POST", "/consent/v1/break-glass"),  # no wildcard (system/*.cu) covers it
    ("cardiology", "GET", "/patient/v1/me"),           # patient routes need a patient token
    ("primary-care", "GET", "/equity/v1/report"),      # no wildcard covers system/Equity.r
    # reports are people's: a department's client holds no user/Report nor patient/Report scope
    ("cardiology", "POST", "/staff/v1/reports"),
    ("cardiology", "POST", "/staff/v1/reports/r-1"),
    ("cardiology", "GET", "/staff/v1/reports/mine"),
    ("cardiology", "GET", "/staff/v1/reports/follow/R-AAAA-BBBB-CCCC"),
    ("cardiology", "GET", "/staff/v1/reports/hard-words"),
    ("cardiology", "POST", "/patient/v1/reports"),
    ("cardiology", "GET", "/patient/v1/reports/r-1"),
])
def test_a_token_without_the_route_scope_is_a_403_problem(client, engine, upstream, dept, method, path):
    token = department_token(client, department(engine, dept))
    resp = client.open(path, method=method, headers=bearer(token), json={})
    assert resp.status_code == 403 and resp.mimetype == _problem_type(path)
    assert "insufficient_scope" in resp.headers["WWW-Authenticate"]
    assert upstream.requests == []


@pytest.mark.parametrize("dept,method,path", [
    ("primary-care", "POST", "/fhir"),
    ("emergency", "POST", "/consent/v1/break-glass"),
    ("research", "POST", "/exchange/v1/requests"),
    ("cardiology", "GET", "/fhir/Consent?patient=p-1"),
    ("cardiology", "GET", "/exchange/v1/requests/r-1/bundle"),
    ("oversight", "GET", "/equity/v1/report"),
])
def test_a_token_with_the_route_scope_reaches_the_upstream(client, engine, upstream, dept, method, path):
    token = department_token(client, department(engine, dept))
    resp = client.open(path, method=method, headers=bearer(token), json={})
    assert resp.status_code == 200
    assert upstream.requests[-1]["path"] == path.split("?")[0]


def test_a_patient_token_reaches_the_patient_routes_and_fhir_reads_but_no_fhir_writes(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Consent.cruds")["access_token"]
    assert client.get("/patient/v1/me", headers=bearer(token)).status_code == 200
    assert client.delete("/patient/v1/consents/c-1", headers=bearer(token)).status_code == 200
    # FHIR reads with patient/ scopes go on: records limits them to the token's compartment
    for path in ("/fhir/Patient/p-7", "/fhir/Observation?patient=p-7", "/fhir/Observation/o-1/_history",
                 "/fhir/Observation/o-1/_history/1"):
        assert client.get(path, headers=bearer(token)).status_code == 200, path
    forwarded = len(upstream.requests)
    for method, path in (("POST", "/fhir"), ("POST", "/fhir/Observation"), ("PUT", "/fhir/Observation/o-1"),
                         ("DELETE", "/fhir/Observation/o-1")):
        resp = client.open(path, method=method, headers=bearer(token), json={})
        assert resp.status_code == 403 and resp.mimetype == FHIR, (method, path)
    assert client.post("/patient/v1/entries", headers=bearer(token), json={}).status_code == 403
    assert len(upstream.requests) == forwarded


@pytest.fixture
def staff_clock(monkeypatch):
    """The gateway's clock, moved by the test (a second step's code is of its time)."""
    from gateway import storage
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


def _quality_token(client, engine, clock) -> str:
    """A token of cardiology's quality team member from the console's sign-in: reports and triages."""
    from tests.support.staff import console_directory, gateway_staff_store, person, staff_tokens
    directory, staff = console_directory(engine), gateway_staff_store(engine)
    account, secret, _codes = person(staff, directory, clock, username="q.one", roles=("quality",))
    return staff_tokens(client, account.username, secret, clock)["access_token"]


def test_a_report_or_triage_body_over_64_kib_is_a_413_and_is_not_forwarded(client, engine, upstream, staff_clock):
    make_account(engine, patient="p-7")
    patient = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Report.c")["access_token"]
    quality = _quality_token(client, engine, staff_clock)
    body = {"kind": "system-problem", "text": "x" * (64 * 1024)}
    for path, token in (("/patient/v1/reports", patient), ("/staff/v1/reports", quality),
                        ("/staff/v1/reports/r-1", quality)):
        assert client.post(path, headers=bearer(token), json={"kind": "system-problem"}).status_code == 200, path
        forwarded = len(upstream.requests)
        resp = client.post(path, headers={**bearer(token), "If-Match": 'W/"1"'}, json=body)
        assert resp.status_code == 413 and resp.mimetype == PROBLEM, (path, resp.get_data(as_text=True)[:200])
        assert resp.json["max_bytes"] == 64 * 1024
        assert len(upstream.requests) == forwarded, path


def test_a_revoked_token_reads_no_report_through_the_gateway(client, engine, upstream, staff_clock):
    make_account(engine, patient="p-7")
    patient = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Report.c")["access_token"]
    quality = _quality_token(client, engine, staff_clock)
    reads = [("/patient/v1/reports/r-1", patient), ("/patient/v1/reports", patient), ("/staff/v1/reports", quality),
             ("/staff/v1/reports/r-1", quality), ("/staff/v1/reports/hard-words", quality),
             ("/staff/v1/reports/follow/R-AAAA-BBBB-CCCC", quality)]
    for path, token in reads:
        assert client.get(path, headers=bearer(token)).status_code == 200, path
    for token, client_id in ((patient, "phr-portal"), (quality, "phr-console")):
        assert client.post("/oauth/revoke", data={"token": token, "client_id": client_id}).status_code == 200
    forwarded = len(upstream.requests)
    for path, token in reads:
        resp = client.get(path, headers=bearer(token))
        assert resp.status_code == 401 and resp.mimetype == PROBLEM, path
    assert len(upstream.requests) == forwarded


def test_a_route_missing_from_the_table_is_a_404_problem(client, engine, upstream):
    token = department_token(client, department(engine))
    for method, path in (("DELETE", "/exchange/v1/requests/r-1"), ("GET", "/consent/v1/unknown")):
        resp = client.open(path, method=method, headers=bearer(token))
        assert resp.status_code == 404 and resp.mimetype == _problem_type(path)
    assert client.get("/fhir/Patient/..", headers=bearer(token)).status_code in (400, 404)
    assert upstream.requests == []


def test_a_client_over_its_rate_gets_429_with_retry_after(gateway_config, upstream):
    app = create_app({**gateway_config, "rate_limit_per_second": 0.5, "rate_limit_burst": 3})
    client = app.test_client()
    engine = app.extensions["gateway"].engine
    token = department_token(client, department(engine))
    other = department_token(client, department(engine, "emergency"))
    statuses = [client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/fhir/Patient/p-1", headers=bearer(token))
    assert limited.mimetype == FHIR and int(limited.headers["Retry-After"]) >= 1
    assert client.get("/fhir/Patient/p-1", headers=bearer(other)).status_code == 200



def test_a_request_over_its_rate_spends_one_token_and_is_refused_once(gateway_config, upstream):
    app = create_app({**gateway_config, "rate_limit_per_second": 0.001, "rate_limit_burst": 2})
    client = app.test_client()
    token = department_token(client, department(app.extensions["gateway"].engine))
    limiter, taken = app.extensions["gateway"].guard.limiter, []
    take = limiter.take
    limiter.take = lambda key: taken.append(key) or take(key)
    statuses = [client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # The fast path refused the third; the Flask view renders that refusal without a second check.
    assert len(taken) == 3 and len(upstream.requests) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_upstream_is_a_503_problem(gateway_config):
    peers = {**gateway_config["peers"], "records": f"http://127.0.0.1:{_free_port()}"}
    app = create_app({**gateway_config, "peers": peers})
    client = app.test_client()
    token = department_token(client, department(app.extensions["gateway"].engine))
    resp = client.get("/fhir/Patient/p-1", headers=bearer(token))
    assert resp.status_code == 503 and resp.mimetype == FHIR and resp.headers["Retry-After"]


def test_a_slow_upstream_is_a_504_problem(gateway_config, upstream):
    def slow(req):
        time.sleep(1.5)
        return Response(b"{}", 200)
    upstream.handler = slow
    app = create_app({**gateway_config, "UPSTREAM_READ_TIMEOUT": 0.3})
    client = app.test_client()
    token = department_token(client, department(app.extensions["gateway"].engine))
    resp = client.get("/fhir/Patient/p-1", headers=bearer(token))
    assert resp.status_code == 504 and resp.mimetype == FHIR


def test_ops_endpoints_answer(client):
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/readyz").json["checks"] == {"database": "ok"}
    assert b"http_requests_total" in client.get("/metrics").get_data()
