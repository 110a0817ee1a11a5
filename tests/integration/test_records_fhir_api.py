"""Records service HTTP API on a real database (SQLite and PostgreSQL) with real tokens."""
import json

import pytest
import sqlalchemy as sa

from contracts.schemas import OperationOutcomeProblemSchema, TransactionResponseSchema
from services.records.adapters.tables import outbox, resources
from tests.support.fhir import demo_bundle, small_bundle


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_synthea_bundle_is_stored_whole_and_announced_once_per_patient(records, mint):
    client, engine = records
    bundle = demo_bundle("Gustavo_Mejia")
    resp = client.post("/fhir", json=bundle, headers=mint.department())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert TransactionResponseSchema().validate(body) == {}
    assert body["type"] == "transaction-response"
    assert len(body["entry"]) == len(bundle["entry"]) == _count(engine, resources)
    assert all(e["response"]["status"] == "201 Created" for e in body["entry"])
    with engine.connect() as conn:
        events = [json.loads(r.payload) for r in conn.execute(sa.select(outbox))]
    assert [e["type"] for e in events] == ["phr.records.imported"]
    assert events[0]["data"]["custodian"] == "primary-care"


def test_the_custodian_reads_a_stored_resource_with_its_version(records, mint):
    client, _ = records
    bundle = small_bundle("pat-1")
    client.post("/fhir", json=bundle, headers=mint.department())
    oid = bundle["entry"][1]["resource"]["id"]
    resp = client.get(f"/fhir/Observation/{oid}", headers=mint.department())
    assert resp.status_code == 200
    assert resp.get_json()["subject"] == {"reference": "Patient/pat-1"}
    assert resp.get_json()["meta"]["versionId"] == "1"
    assert resp.headers["ETag"] == 'W/"1"'
    again = client.get(f"/fhir/Observation/{oid}", headers={**mint.department(), "If-None-Match": 'W/"1"'})
    assert again.status_code == 304


def test_another_department_cannot_read_what_it_does_not_hold(records, mint):
    client, _ = records
    bundle = small_bundle("pat-2")
    client.post("/fhir", json=bundle, headers=mint.department())
    resp = client.get("/fhir/Patient/pat-2", headers=mint.department("cardiology"))
    assert resp.status_code == 404
    assert resp.content_type == "application/fhir+json"
    assert "Ana" not in resp.get_data(as_text=True)


def test_an_invalid_bundle_is_an_operation_outcome_and_stores_nothing(records, mint):
    client, engine = records
    bundle = small_bundle(observations=3)
    bundle["entry"][2]["resource"]["valueQuantity"] = {"value": "not a number"}
    resp = client.post("/fhir", json=bundle, headers=mint.department())
    assert resp.status_code == 422
    body = resp.get_json()
    assert resp.content_type == "application/fhir+json"
    assert OperationOutcomeProblemSchema().validate(body) == {}
    assert body["resourceType"] == "OperationOutcome" and body["status"] == 422
    assert any("Bundle.entry[2]" in i["expression"][0] for i in body["issue"])
    assert _count(engine, resources) == 0 and _count(engine, outbox) == 0


def test_posting_the_same_bundle_twice_changes_nothing_the_second_time(records, mint):
    client, engine = records
    bundle = small_bundle()
    client.post("/fhir", json=bundle, headers=mint.department())
    second = client.post("/fhir", json=bundle, headers=mint.department())
    assert second.status_code == 200
    assert all(e["response"]["status"] == "200 OK" for e in second.get_json()["entry"])
    assert _count(engine, resources) == 3


def test_a_conflicting_post_is_refused_and_rolls_back_the_whole_bundle(records, mint):
    client, engine = records
    bundle = small_bundle("pat-3")
    client.post("/fhir", json=bundle, headers=mint.department())
    changed = small_bundle("pat-3")
    changed["entry"][0]["resource"]["birthDate"] = "1999-01-01"
    resp = client.post("/fhir", json=changed, headers=mint.department())
    assert resp.status_code == 409
    assert _count(engine, resources) == 3


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"'])
def test_a_body_that_is_not_a_bundle_is_a_4xx_problem(records, mint, body):
    client, _ = records
    resp = client.post("/fhir", data=body, headers={**mint.department(), "Content-Type": "application/fhir+json"})
    assert resp.status_code in (400, 422)
    assert resp.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_bundle_holding_nan_or_infinity_is_not_json_and_stores_nothing(records, mint, constant):
    client, engine = records
    text = json.dumps(small_bundle()).replace('"status":', f'"valueDecimalProbe": {constant}, "status":', 1)
    assert constant in text
    resp = client.post("/fhir", data=text, headers={**mint.department(), "Content-Type": "application/fhir+json"})
    assert resp.status_code == 400
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    assert _count(engine, resources) == 0 and _count(engine, outbox) == 0


def test_requests_without_a_valid_token_are_refused(records, mint):
    client, _ = records
    assert client.get("/fhir/Patient/x").status_code == 401
    forged = mint.token(key=__import__("joserfc").jwk.RSAKey.generate_key(2048, auto_kid=True), dept="primary-care")
    assert client.get("/fhir/Patient/x", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = mint.token(lifetime=-120, dept="primary-care")
    assert client.get("/fhir/Patient/x", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_a_token_without_the_create_scope_cannot_post_a_bundle(records, mint):
    client, engine = records
    resp = client.post("/fhir", json=small_bundle(), headers=mint.department(scope="system/*.rs"))
    assert resp.status_code == 403 and _count(engine, resources) == 0


def test_a_patient_token_cannot_use_the_department_fhir_api(records, mint):
    client, _ = records
    resp = client.post("/fhir", json=small_bundle(), headers=mint.patient("p", scope="system/*.cruds", sub="someone"))
    assert resp.status_code == 403


def test_health_metrics_and_capabilities_answer_without_a_token(records):
    client, _ = records
    assert client.get("/fhir/metadata").get_json()["fhirVersion"] == "4.0.1"
    assert client.get("/healthz").status_code == 200
    assert "http_requests_total" in client.get("/metrics").get_data(as_text=True)

