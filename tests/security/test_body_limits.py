"""Request bodies have a size per route and a nesting depth: over the size is a 413 problem
before the body is read (or as soon as a chunked body passes it), deeper than 64 levels a 400
problem, never a 500 (the json module's RecursionError) nor a 32 MiB body parsed.

Sizes (services.common.bodies): 64 KiB everywhere but PUT /fhir/{type}/{id} and POST /fhir/{type} (1 MiB) and
POST /fhir (8 MiB); the gateway refuses the same before it forwards (gateway.proxy.routes).
"""
import json

import pytest
import requests

from tests.support.client import demo_departments, demo_patient_headers

KIB, MIB = 1024, 1024 * 1024
PATIENT_SCOPE = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c "
                 "patient/Task.c")


def padded(size: int) -> bytes:
    """A JSON object of SIZE bytes."""
    return json.dumps({"pad": "x" * (size - len('{"pad": ""}'))}).encode()


def nested(depth: int, key: str = "patient") -> bytes:
    """A JSON object whose KEY holds arrays DEPTH - 1 deep (DEPTH levels in all)."""
    return f'{{"{key}":{"[" * (depth - 1)}{"]" * (depth - 1)}}}'.encode()


@pytest.fixture
def apps(service_apps):
    """The three services' Flask test clients, each on a SQLite file."""
    return {"consent": service_apps.consent().client, "exchange": service_apps.exchange().client,
            "records": service_apps.records().client}


def _patient(mint) -> dict:
    return mint.patient("p-1", scope=PATIENT_SCOPE + " patient/Report.c", sub="acct")


# (service, path, who, the route's size)
ROUTES = [
    ("consent", "/patient/v1/consents", "patient", 64 * KIB),
    ("consent", "/consent/v1/decisions", "department", 64 * KIB),
    ("consent", "/consent/v1/break-glass", "department", 64 * KIB),
    ("exchange", "/exchange/v1/requests", "department", 64 * KIB),
    ("exchange", "/fhir/Subscription", "department", 64 * KIB),  # served by the exchange, not records
    ("exchange", "/patient/v1/reports", "patient", 64 * KIB),
    ("exchange", "/staff/v1/reports", "staff", 64 * KIB),
    ("exchange", "/staff/v1/reports/r-1", "staff", 64 * KIB),  # triage: the body is read before the report
    ("records", "/patient/v1/entries", "patient", 64 * KIB),
    ("records", "/patient/v1/amendments", "patient", 64 * KIB),
    ("records", "/fhir", "department", 8 * MIB),
    ("records", "/fhir/Observation", "department", MIB),  # a create: one resource, as an update
]


def _headers(mint, who: str) -> dict:
    if who == "patient":
        return _patient(mint)
    if who == "staff":  # a quality team member's: files and triages reports
        return mint.staff(dept="emergency", roles=("quality",), staff_id="q-1", scope="user/Report.cruds")
    scope = "system/*.cruds system/Exchange.cr system/BreakGlass.c"
    return {"Authorization": f"Bearer {mint.token(scope=scope, dept='emergency')}"}


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    fhir = resp.request.path.startswith("/fhir")  # errors on /fhir are OperationOutcomes in FHIR's type
    assert resp.content_type == ("application/fhir+json" if fhir else "application/problem+json")
    return resp.get_json()


@pytest.mark.parametrize("service, path, who, size", ROUTES)
def test_a_body_one_byte_over_its_routes_size_is_a_413_naming_the_size(apps, mint, service, path, who, size):
    resp = apps[service].post(path, data=padded(size + 1), content_type="application/json",
                              headers=_headers(mint, who))
    body = _problem(resp, 413)
    assert body["max_bytes"] == size
    assert (f"{size // MIB} MiB" if size >= MIB else f"{size // KIB} KiB") in body["detail"]


@pytest.mark.parametrize("service, path, who, size", ROUTES)
def test_a_body_nested_deeper_than_the_recursion_limit_is_a_400_not_a_500(apps, mint, service, path, who, size):
    resp = apps[service].post(path, data=nested(5000), content_type="application/json",
                              headers=_headers(mint, who))
    assert "64" in _problem(resp, 400)["detail"]


@pytest.mark.parametrize("service, path, who, size", ROUTES)
def test_nesting_of_65_levels_is_refused_and_64_is_not(apps, mint, service, path, who, size):
    headers = _headers(mint, who)
    refused = apps[service].post(path, data=nested(65), content_type="application/json", headers=headers)
    assert "64" in _problem(refused, 400)["detail"]
    allowed = apps[service].post(path, data=nested(64), content_type="application/json", headers=headers)
    assert "64" not in (allowed.get_json() or {}).get("detail", "")


@pytest.mark.parametrize("service, path, who, size", [route for route in ROUTES if not route[1].startswith("/fhir")])
@pytest.mark.parametrize("body", [b"[]", b'{"patient": NaN}', b"{not json"])
def test_a_body_that_is_not_a_json_object_is_a_422_naming_the_body_on_every_route(apps, mint, service, path,
                                                                                  who, size, body):
    """One fault, one status (services.common.bodies); a FHIR route answers as FHIR does, 400."""
    resp = apps[service].post(path, data=body, content_type="application/json", headers=_headers(mint, who))
    assert _problem(resp, 422)["fields"] == ["body"]


def test_a_fhir_update_takes_one_resource_of_at_most_1_mib(apps, mint):
    resp = apps["records"].put("/fhir/Observation/x", data=padded(MIB + 1), content_type="application/fhir+json",
                               headers={**_headers(mint, "department"), "If-Match": 'W/"1"'})
    assert _problem(resp, 413)["max_bytes"] == MIB


def test_the_largest_synthea_bundle_is_well_under_the_bundle_size_and_still_imported(apps, mint):
    from pathlib import Path
    biggest = max(Path("tests/data/synthea-r4").glob("*.json"), key=lambda p: p.stat().st_size)
    assert biggest.stat().st_size < 8 * MIB / 10
    resp = apps["records"].post("/fhir", data=biggest.read_bytes(), content_type="application/fhir+json",
                                headers=_headers(mint, "department"))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]


# -- through the running stack --------------------------------------------------------------

def _chunks(size: int, piece: int = 4 * KIB):
    body = padded(size)
    for at in range(0, len(body), piece):
        yield body[at:at + piece]


@pytest.fixture(scope="module")
def clients(stack):
    _who, patient = demo_patient_headers(stack, 0, PATIENT_SCOPE)
    return demo_departments(stack), patient


def _served(stack, service: str, route: str) -> float:
    """How many requests to ROUTE SERVICE has answered, by its own /metrics."""
    text = requests.get(f"{stack.url(service)}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("http_requests_total{") and f'route="{route}"' in line)


def test_the_gateway_refuses_a_decision_body_over_64_kib_before_forwarding_it(stack, clients):
    depts, _patient = clients
    before = _served(stack, "consent", "/consent/v1/decisions")
    resp = depts["primary-care"].post("/consent/v1/decisions", data=padded(64 * KIB + 1),
                                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json()["max_bytes"] == 64 * KIB
    assert _served(stack, "consent", "/consent/v1/decisions") == before


@pytest.mark.parametrize("where", ["gateway", "consent"])
def test_a_chunked_body_is_refused_once_it_passes_64_kib(stack, clients, where):
    depts, patient = clients
    base = stack.gateway if where == "gateway" else stack.url("consent")
    resp = requests.post(f"{base}/patient/v1/consents", data=_chunks(128 * KIB), timeout=30,
                         headers={**patient, "Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text
    assert resp.json()["max_bytes"] == 64 * KIB


def test_a_small_chunked_body_is_still_read(stack, clients):
    _depts, patient = clients
    body = json.dumps({"grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]}).encode()
    resp = requests.post(f"{stack.gateway}/patient/v1/consents", data=iter([body[:10], body[10:]]), timeout=30,
                         headers={**patient, "Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text


def test_a_bundle_over_8_mib_is_refused_at_the_gateway(stack, clients):
    depts, _patient = clients
    before = _served(stack, "records", "/fhir")
    resp = depts["primary-care"].post("/fhir", data=padded(8 * MIB + 1),
                                      headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 413, resp.text
    assert resp.json()["max_bytes"] == 8 * MIB
    assert _served(stack, "records", "/fhir") == before


def test_a_bundle_nested_100000_deep_is_a_400_operation_outcome(stack, clients):
    depts, _patient = clients
    resp = depts["primary-care"].post("/fhir", data=nested(100_000, "entry"),
                                      headers={"Content-Type": "application/fhir+json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"



@pytest.mark.parametrize("path, kind", [("/accounts/v1/activate", "json"), ("/oauth/token", "form")])
def test_the_gateways_own_routes_take_16_kib_too(stack, path, kind):
    if kind == "json":
        resp = requests.post(f"{stack.gateway}{path}", data=padded(64 * KIB + 1), timeout=30,
                             headers={"Content-Type": "application/json"})
    else:
        resp = requests.post(f"{stack.gateway}{path}", timeout=30,
                             data={"grant_type": "client_credentials", "pad": "x" * (64 * KIB)})
    assert resp.status_code == 413, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")


def test_a_correction_request_at_its_longest_in_greek_fits_the_body_size(stack):
    """Two texts of 2,000 characters (contracts.limits) sent as JSON escapes, as requests and
    Python's json write them, are 24 KB: the size must take what the contract allows."""
    _who, patient = demo_patient_headers(stack, 2, PATIENT_SCOPE)
    entry = requests.post(f"{stack.gateway}/patient/v1/entries", headers=patient, timeout=10,
                          json={"kind": "weight", "value": 70, "unit": "kg"})
    assert entry.status_code == 201, entry.text
    greek = ("Το βάρος μου ήταν λάθος. " * 100)[:2000]
    body = {"record_id": entry.json()["id"], "what_is_wrong": greek, "correction": greek}
    assert len(json.dumps(body)) > 16 * KIB
    asked = requests.post(f"{stack.gateway}/patient/v1/amendments", headers=patient, json=body, timeout=10)
    assert asked.status_code == 201, asked.text[:300]
