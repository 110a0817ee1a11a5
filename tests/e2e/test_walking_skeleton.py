"""The whole stack end to end: real broker, real databases, real HTTP, real tokens."""
import json
import os
import socket
import stat
import time
import uuid

import requests
import sqlalchemy as sa

from contracts.events import problems
from services.common import envelope, kafka
from services.common.auth import JwksCache, TokenValidator
from services.common.db import make_engine
from services.exchange.adapters.tables import patient_index
from tests.support.client import Department, patient_login
from tests.support.fhir import small_bundle
from tests.support.stack import SERVICES, Stack


def _department(stack, name="primary-care", **kw):
    creds = stack.credentials()["departments"][name]
    return Department(stack.gateway, creds["client_id"], creds["client_secret"], **kw)


def test_first_start_seeds_departments_patients_and_private_credentials(stack):
    path = stack.var_dir / "demo-credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    creds = stack.credentials()
    assert creds["gateway"] == stack.gateway
    assert set(creds["departments"]) == {"primary-care", "cardiology", "emergency", "research"}
    assert all(d["client_id"] and d["client_secret"] for d in creds["departments"].values())
    assert creds["portal"]["client_id"] and creds["portal"]["redirect_uri"]
    languages = {p["language"] for p in creds["patients"]}
    assert "es" in languages and len(creds["patients"]) == 3


def test_a_demo_patient_is_readable_by_its_custodian_through_the_gateway(stack):
    patient = stack.credentials()["patients"][0]["patient"]
    resp = _department(stack).get(f"/fhir/Patient/{patient}")
    assert resp.status_code == 200 and resp.json()["id"] == patient


def test_a_bundle_flows_from_the_gateway_through_records_and_kafka_into_the_exchange_index(stack):
    patient = f"e2e-{uuid.uuid4().hex[:12]}"
    resp = _department(stack).post("/fhir", json=small_bundle(patient, observations=3))
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "transaction-response" and len(resp.json()["entry"]) == 4

    reader = kafka.consumer(stack.bootstrap, f"e2e-{uuid.uuid4().hex[:6]}", ["phr.records.v1"])
    seen, deadline = None, time.monotonic() + 30
    try:
        while seen is None and time.monotonic() < deadline:
            for messages in reader.poll(timeout_ms=300).values():
                for m in messages:
                    event = envelope.parse(m.value)
                    if event["subject"] == patient:
                        seen = (m, event)
    finally:
        reader.close()
    assert seen is not None, "no phr.records.imported event reached the broker"
    message, event = seen
    assert event["type"] == "phr.records.imported" and message.key == patient.encode()
    assert problems(json.loads(message.value)) == [], "the event breaks its JSON Schema"
    assert event["data"]["resource_count"] == 4 and event["data"]["custodian"] == "primary-care"
    assert dict(message.headers).get("traceparent")

    engine = make_engine(stack.database_url("exchange"))
    try:
        deadline, row = time.monotonic() + 30, None
        while row is None and time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(sa.select(patient_index).where(patient_index.c.patient_id == patient)).first()
            time.sleep(0.2)
    finally:
        engine.dispose()
    assert row is not None, "the exchange worker did not index the patient"
    assert row.custodian == "primary-care" and row.resource_count == 4


def test_an_invalid_bundle_through_the_gateway_is_a_4xx_outcome_and_stores_nothing(stack):
    patient = f"bad-{uuid.uuid4().hex[:12]}"
    bundle = small_bundle(patient)
    bundle["entry"][2]["resource"]["subject"] = "not a reference"
    dept = _department(stack)
    resp = dept.post("/fhir", json=bundle)
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("application/fhir+json")
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert dept.get(f"/fhir/Patient/{patient}").status_code == 404


def test_another_department_cannot_read_primary_cares_records_directly(stack):
    patient = stack.credentials()["patients"][0]["patient"]
    resp = _department(stack, "cardiology").get(f"/fhir/Patient/{patient}")
    assert resp.status_code == 404
    assert patient not in resp.text or "Patient" in resp.json().get("detail", "")


def test_research_may_not_post_records(stack):
    resp = _department(stack, "research").post("/fhir", json=small_bundle())
    assert resp.status_code == 403
    assert resp.headers["Content-Type"].startswith("application/fhir+json")


def test_a_request_without_a_token_is_refused_with_a_problem(stack):
    resp = requests.get(f"{stack.gateway}/fhir/Patient/x", timeout=10)
    assert resp.status_code == 401 and resp.json()["status"] == 401


def test_a_demo_patient_signs_in_with_pkce_and_gets_a_patient_token(stack):
    creds = stack.credentials()
    patient = creds["patients"][1]
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          patient["username"], patient["password"])
    assert token["token_type"].lower() == "bearer" and token.get("refresh_token")
    validator = TokenValidator(stack.gateway, stack.gateway, JwksCache(f"{stack.gateway}/oauth/jwks"))
    claims = validator.validate(token["access_token"])
    assert claims["patient"] == patient["patient"] and claims["fhirUser"] == f"Patient/{patient['patient']}"


def test_the_fhir_capability_statement_is_public_through_the_gateway(stack):
    resp = requests.get(f"{stack.gateway}/fhir/metadata", timeout=10)
    assert resp.status_code == 200 and resp.json()["resourceType"] == "CapabilityStatement"


def test_discovery_and_keys_are_public(stack):
    config = requests.get(f"{stack.gateway}/.well-known/smart-configuration", timeout=10).json()
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert requests.get(config["jwks_uri"], timeout=10).json()["keys"]


def test_every_service_reports_health_readiness_and_metrics(stack):
    for name in SERVICES:
        base = stack.url(name)
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert "http_requests_total" in requests.get(f"{base}/metrics", timeout=5).text


def test_ctrl_c_stops_every_process_and_frees_every_port(tmp_path):
    own = Stack(tmp_path / "own").start()
    try:
        assert own.stop() == 0, "the stack had to be killed or did not exit cleanly"
    finally:
        own.stop()
    for name in (*SERVICES, "broker"):
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex(("127.0.0.1", own.ports[name])) != 0, f"{name} still listens after Ctrl-C"
