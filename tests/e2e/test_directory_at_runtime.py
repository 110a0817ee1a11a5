"""A department registered while the stack runs takes part in exchanges with no code change:
an administrator adds physiotherapy with `phr departments add`, a patient shares with it from
the portal, and its exchange is fulfilled; disabled, its token stops working at once."""
import contextlib
import io
import re
import time
from typing import NamedTuple

import pytest
import requests

from launcher import cli as phr
from tests.support.client import Department, demo_patient_headers
from tests.support.portal import form_with, signed_in


def _until(check, timeout: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, f"timed out waiting for {what}"
            return found
        time.sleep(0.2)


def _departments_known(stack) -> dict:
    return {name: requests.get(f"{stack.url(name)}/readyz", timeout=5).json().get("facts", {}).get("departments")
            for name in ("consent", "records", "exchange")}


def _phr(stack, *argv: str) -> tuple[int, str]:
    """Run `phr departments ...` as the administrators' client; return its exit code and output."""
    admin = stack.credentials()["admin"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = phr.main(["departments", argv[0], *argv[1:], "--gateway", stack.gateway,
                         "--client-id", admin["client_id"], f"--client-secret={admin['client_secret']}"])
    return code, out.getvalue()


class Physiotherapy(NamedTuple):
    client: Department
    secret: str


@pytest.fixture(scope="module")
def physiotherapy(stack) -> Physiotherapy:
    before = _departments_known(stack)
    code, out = _phr(stack, "add", "physiotherapy", "--name", "en=Physiotherapy", "--name", "es=Fisioterapia",
                     "--kind", "clinical")
    assert code == 0, out
    secret = re.search(r"^client_secret=(\S+)$", out, re.M).group(1)
    _until(lambda: all(n > before[s] for s, n in _departments_known(stack).items()),
           what="every service to learn physiotherapy")
    return Physiotherapy(Department(stack.gateway, "physiotherapy", secret), secret)


def test_a_department_registered_at_runtime_is_shared_with_from_the_portal_and_gets_its_records(
        stack, physiotherapy):
    physio, creds = physiotherapy.client, stack.credentials()
    patient = next(p for p in creds["patients"] if p["language"] == "es")
    portal = signed_in(stack.gateway, patient["username"], patient["password"], language="es")
    page = portal.get(f"{stack.gateway}/portal/sharing", timeout=30)
    assert page.status_code == 200 and "Fisioterapia" in page.text
    form = form_with(page, "department")
    assert "physiotherapy" in form["options"]["department"]
    shared = portal.post(form["action"], timeout=30, data={
        **form["fields"], "department": "physiotherapy", "groups": "tests", "purpose": "TREAT",
        "period": form["options"]["period"][0]})
    assert shared.status_code == 200 and "Fisioterapia" in shared.text, shared.text[-2000:]

    asked = physio.post("/exchange/v1/requests", json={
        "patient": patient["patient"], "purpose": "TREAT", "resource_types": ["Observation"],
        "reason": "Physiotherapy assessment"})
    assert asked.status_code == 202, asked.text
    status = physio.wait_until_done(asked.json()["id"])
    assert status["status"] == "fulfilled" and status["resource_count"] > 0, status
    bundle = physio.get(f"/exchange/v1/requests/{asked.json()['id']}/bundle")
    assert bundle.status_code == 200
    assert {e["resource"]["resourceType"] for e in bundle.json()["entry"]} == {"Observation"}

    _who, headers = demo_patient_headers(stack, creds["patients"].index(patient))
    seen = requests.get(f"{stack.gateway}/patient/v1/disclosures", timeout=10,
                        headers={**headers, "Accept-Language": "es"}).json()["items"]
    assert any(d["recipient"] == {"department": "physiotherapy", "display": "Fisioterapia"} for d in seen), seen


def test_a_disabled_department_is_refused_at_once_by_the_gateway_and_the_services(stack, physiotherapy):
    physio = physiotherapy.client
    token = {"Authorization": f"Bearer {physio.token}"}
    assert physio.get("/exchange/v1/ledger/verify").status_code == 200
    code, out = _phr(stack, "disable", "physiotherapy", "--reason", "The clinic closed.")
    assert code == 0 and "disabled physiotherapy" in out, out
    refused = physio.get("/exchange/v1/ledger/verify")
    assert refused.status_code == 401 and refused.headers["Content-Type"].startswith("application/problem+json")
    for service, path in (("exchange", "/exchange/v1/ledger/verify"), ("records", "/fhir/Observation")):
        _until(lambda: requests.get(f"{stack.url(service)}{path}", headers=token, timeout=5).status_code == 401,
               timeout=10, what=f"{service} to refuse the disabled department")
    again = requests.post(f"{stack.gateway}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=("physiotherapy", physiotherapy.secret), timeout=10)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
