"""Smoke test of docker-compose.yml: the stack comes up and answers through the gateway."""
from __future__ import annotations

import pytest
import requests

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
