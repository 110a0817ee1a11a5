"""Fixtures for the gateway's tests: records behind the gateway, an activation code, the staff console."""
from __future__ import annotations

import json
import time as _time

import pytest
from werkzeug.wrappers import Response

from gateway import storage as _storage
from gateway.admin.clients import ensure_console_client as _ensure_console_client
from tests.security.gateway_server import GatewayServer as _GatewayServer
from tests.support import staff as _staff
from tests.support.gateway import bearer, department, department_token

#: The Patient records serves for p-9 (prefers Spanish).
PATIENT = {"resourceType": "Patient", "id": "p-9", "birthDate": "1961-04-02",
           "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]},
                              "preferred": True}]}


@pytest.fixture
def records_upstream(upstream):
    """Records, behind the gateway, answers the Patient p-9 only to a caller that sends a token."""
    def handler(req):
        if req.path == "/fhir/Patient/p-9" and req.headers.get("Authorization", "").startswith("Bearer "):
            return Response(json.dumps(PATIENT), 200, content_type="application/fhir+json")
        return Response(json.dumps({"resourceType": "OperationOutcome"}), 404,
                        content_type="application/fhir+json")
    upstream.handler = handler
    return upstream


@pytest.fixture
def code(client, engine, records_upstream) -> str:
    """An activation code primary care got for p-9."""
    token = department_token(client, department(engine, "primary-care"))
    resp = client.post("/accounts/v1/activation-codes", json={"patient": "p-9"}, headers=bearer(token))
    assert resp.status_code == 201, resp.json
    return resp.json["code"]


# The staff console's gateway over real HTTP, with a clock a test moves (TOTP codes, weeks):
# shared by the console, pulse and measures-dashboard tests.
@pytest.fixture
def clock(monkeypatch):
    now = {"at": int(_time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(_storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def gw_settings() -> dict:
    """Settings of the console's gateway (``gw``) other than the defaults; a module overrides it."""
    return {}


@pytest.fixture
def gw(tmp_path, database_url, clock, gw_settings):
    with _GatewayServer(tmp_path, database_url, **gw_settings) as server:
        engine = server.app.extensions["gateway"].engine
        server.directory = _staff.console_directory(engine)
        _ensure_console_client(engine, [server.url + "/console/callback"])
        server.staff = _staff.gateway_staff_store(engine)
        yield server
