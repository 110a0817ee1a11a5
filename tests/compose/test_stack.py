"""docker-compose.yml: the stack comes up, answers through the gateway and runs one exchange."""
from __future__ import annotations

import json
import time

import pytest
import requests
from pytest_docker.plugin import DockerComposeExecutor

from tests.support.client import demo_departments, demo_patient_headers

START_TIMEOUT = 300.0  # image pulls and first start of Kafka and PostgreSQL included


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


@pytest.fixture(scope="session")
def gateway(docker_services, docker_ip) -> str:
    """The gateway's base URL, once it and the records service behind it are ready."""
    url = f"http://{docker_ip}:{docker_services.port_for('gateway', 8080)}"
    docker_services.wait_until_responsive(
        check=lambda: _status(f"{url}/readyz") == 200, timeout=START_TIMEOUT, pause=1.0)
    # Records answers through the gateway once it is up; until then the gateway says 502/503.
    docker_services.wait_until_responsive(
        check=lambda: _status(f"{url}/fhir/metadata") not in (None, 502, 503, 504),
        timeout=START_TIMEOUT, pause=1.0)
    return url


@pytest.mark.timeout(1800)  # includes building the image on the first run
def test_gateway_is_ready(gateway):
    resp = requests.get(f"{gateway}/readyz", timeout=10)

    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "ready"


@pytest.mark.timeout(1800)
def test_fhir_metadata_through_the_gateway_is_a_capability_statement(gateway):
    resp = requests.get(f"{gateway}/fhir/metadata", timeout=10)

    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/fhir+json")
    body = resp.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"].startswith("4.0")


class _ComposeStack:
    """The compose stack as the e2e helpers see a stack (tests/support/client.py): the gateway's
    URL and the demo credentials the seed wrote to the gateway's volume."""

    def __init__(self, gateway: str, compose: DockerComposeExecutor):
        self.gateway, self._compose = gateway, compose

    def credentials(self) -> dict:
        return json.loads(self._compose.execute("exec -T gateway cat /data/demo-credentials.json"))


@pytest.fixture(scope="session")
def seeded(gateway, docker_compose_command, docker_compose_file, docker_compose_project_name) -> _ComposeStack:
    """The stack once the seed has written the demo credentials (it exits when done)."""
    stack = _ComposeStack(gateway, DockerComposeExecutor(docker_compose_command, docker_compose_file,
                                                         docker_compose_project_name))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            stack.credentials()
            return stack
        except Exception:  # not written yet (the seed waits for the services), or not whole JSON yet
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


@pytest.mark.timeout(1800)
def test_one_exchange_runs_end_to_end_with_the_client_the_migrate_step_made(seeded):
    # Without the exchange worker's own client (made by the migrate step, its secret handed over
    # on a volume: launcher/service_clients.py) consent refuses its decision requests and every
    # exchange ends refused-by-consent.
    who, me = demo_patient_headers(seeded, 1, "openid fhirUser offline_access patient/*.rs patient/Consent.cruds")
    cardiology = demo_departments(seeded)["cardiology"]
    granted = requests.post(f"{seeded.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert granted.status_code == 201, granted.text

    asked = cardiology.post("/exchange/v1/requests", json={
        "patient": who["patient"], "purpose": "TREAT", "resource_types": ["Observation"], "reason": "Follow-up"})
    assert asked.status_code == 202, asked.text
    status = cardiology.wait_until_done(asked.json()["id"], timeout=120)

    assert status["status"] == "fulfilled", status
    assert status["consent"]["id"] == granted.json()["id"]
