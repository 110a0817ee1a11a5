"""Fixtures for the gateway's activation tests: records behind the gateway, an activation code."""
from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Response

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
