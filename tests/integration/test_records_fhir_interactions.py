"""FHIR R4 interactions standard clients use, beyond the transaction: create, conditional create,
update without If-Match, on a real database (SQLite and PostgreSQL) with real tokens."""
import json

import sqlalchemy as sa

from services.common import bodies
from services.records.adapters.tables import outbox, resources
from tests.support.fhir import small_bundle

FHIR = "application/fhir+json"


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _events(engine) -> list[dict]:
    with engine.connect() as conn:
        return [json.loads(r.payload) for r in conn.execute(sa.select(outbox).order_by(outbox.c.seq))]


def _observation(patient: str, **extra) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Heart rate"},
            "subject": {"reference": f"Patient/{patient}"}, "valueQuantity": {"value": 71, "unit": "/min"},
            **extra}


def test_a_department_creates_an_observation_with_a_new_id_and_it_is_announced(records, mint):
    client, engine = records
    client.post("/fhir", json=small_bundle("c-1", observations=0), headers=mint.department())
    before = len(_events(engine))
    resp = client.post("/fhir/Observation", json=_observation("c-1", id="chosen-by-client"),
                       headers=mint.department())
    assert resp.status_code == 201 and resp.content_type == FHIR
    body = resp.get_json()
    assert body["id"] != "chosen-by-client" and body["meta"]["versionId"] == "1"
    assert resp.headers["ETag"] == 'W/"1"'
    assert resp.headers["Location"].endswith(f"/fhir/Observation/{body['id']}/_history/1")
    assert client.get(f"/fhir/Observation/{body['id']}", headers=mint.department()).status_code == 200
    events = _events(engine)[before:]
    assert [e["type"] for e in events] == ["phr.records.imported"]
    assert events[0]["data"]["patient"] == "c-1" and events[0]["data"]["resource_types"] == {"Observation": 1}


def test_a_conditional_create_that_matches_stores_nothing_and_answers_the_match(records, mint):
    client, engine = records
    obs = _observation("c-2", identifier=[{"system": "urn:lab", "value": "42"}])
    first = client.post("/fhir/Observation", json=obs,
                        headers={**mint.department(), "If-None-Exist": "identifier=urn:lab|42"})
    assert first.status_code == 201
    count, events = _count(engine, resources), len(_events(engine))
    second = client.post("/fhir/Observation", json=obs,
                         headers={**mint.department(), "If-None-Exist": "identifier=urn:lab|42"})
    assert second.status_code == 200 and second.get_json()["id"] == first.get_json()["id"]
    assert _count(engine, resources) == count and len(_events(engine)) == events


def test_a_conditional_create_matching_another_departments_resource_discloses_nothing(records, mint):
    client, engine = records
    obs = _observation("c-3", identifier=[{"system": "urn:lab", "value": "43"}])
    client.post("/fhir/Observation", json=obs, headers={**mint.department(), "If-None-Exist": "identifier=urn:lab|43"})
    count = _count(engine, resources)
    resp = client.post("/fhir/Observation", json=obs,
                       headers={**mint.department("cardiology"), "If-None-Exist": "identifier=urn:lab|43"})
    assert resp.status_code == 412 and resp.content_type == FHIR
    assert "Heart rate" not in resp.get_data(as_text=True) and _count(engine, resources) == count


def test_a_create_whose_body_is_another_type_than_the_url_is_refused(records, mint):
    client, engine = records
    resp = client.post("/fhir/Condition", json=_observation("c-4"), headers=mint.department())
    assert resp.status_code == 400 and resp.content_type == FHIR
    assert resp.get_json()["issue"][0]["expression"] == ["Condition.resourceType"]
    assert _count(engine, resources) == 0 and _count(engine, outbox) == 0


def test_a_malformed_or_invalid_create_is_an_outcome_and_stores_nothing(records, mint):
    client, engine = records
    not_json = client.post("/fhir/Observation", data="{not json", headers={**mint.department(),
                                                                          "Content-Type": FHIR})
    assert not_json.status_code == 400 and not_json.get_json()["resourceType"] == "OperationOutcome"
    invalid = client.post("/fhir/Observation", json=_observation("c-5", valueQuantity={"value": "many"}),
                          headers=mint.department())
    assert invalid.status_code == 422
    assert invalid.get_json()["issue"][0]["expression"][0].startswith("Observation.")
    unsupported = client.post("/fhir/Observation", json=_observation("c-5"),
                              headers={**mint.department(), "If-None-Exist": "code=1234"})
    assert unsupported.status_code == 400
    assert _count(engine, resources) == 0 and _count(engine, outbox) == 0


def test_an_oversized_create_is_a_413_and_stores_nothing(records, mint):
    client, engine = records
    big = _observation("c-6", note=[{"text": "x" * (bodies.RESOURCE + 1)}])
    resp = client.post("/fhir/Observation", json=big, headers=mint.department())
    assert resp.status_code == 413 and resp.content_type == FHIR
    assert _count(engine, resources) == 0


def test_a_create_needs_the_types_create_scope_and_a_department(records, mint):
    client, engine = records
    read_only = client.post("/fhir/Observation", json=_observation("c-7"),
                            headers=mint.department(scope="system/*.rs"))
    assert read_only.status_code == 403
    patient = client.post("/fhir/Observation", json=_observation("c-7"),
                          headers=mint.patient("c-7", scope="patient/*.cruds"))
    assert patient.status_code == 403
    assert _count(engine, resources) == 0


def test_an_update_without_if_match_stores_the_next_version_and_is_announced(records, mint):
    client, engine = records
    client.post("/fhir", json=small_bundle("c-8", observations=0), headers=mint.department())
    before = len(_events(engine))
    patient = client.get("/fhir/Patient/c-8", headers=mint.department()).get_json()
    patient["birthDate"] = "1979-01-01"
    resp = client.put("/fhir/Patient/c-8", json=patient, headers=mint.department())
    assert resp.status_code == 200 and resp.headers["ETag"] == 'W/"2"'
    events = _events(engine)[before:]
    assert [e["type"] for e in events] == ["phr.records.imported"]
    assert events[0]["data"]["resource_types"] == {"Patient": 1}
