"""Patients see only their own compartment; department tokens are refused on /patient/v1."""
import pytest
import sqlalchemy as sa

from services.records.adapters.tables import resources
from tests.support.fhir import demo_bundle

GUSTAVO = "cdf500b9-7cc4-424d-a86c-a18e6620d6e7"
LIZ = "ee9f8dd8-72d2-4769-8020-89e504b1504b"
SCOPE = "openid fhirUser offline_access patient/*.rs patient/Observation.c patient/Task.c"
ROUTES = [("get", "/patient/v1/me", None), ("get", "/patient/v1/records", None),
          ("get", "/patient/v1/amendments", None),
          ("post", "/patient/v1/entries", {"kind": "weight", "value": 70, "unit": "kg"}),
          ("post", "/patient/v1/amendments", {"record_id": GUSTAVO, "what_is_wrong": "x", "correction": "y"})]


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: who sees what does not depend on the database."""
    return f"sqlite:///{tmp_path / 'records.db'}"


@pytest.fixture(autouse=True)
def two_patients(records, mint):
    """Every test starts with Gustavo and Liz imported by primary care."""
    for name in ("Gustavo_Mejia", "Liz_Conn"):
        assert records.client.post("/fhir", json=demo_bundle(name), headers=mint.department()).status_code == 200


def _as(mint, patient, scope=SCOPE, **claims):
    return mint.patient(patient, scope=scope, sub="acct", **claims)


def _ids(engine, patient):
    with engine.connect() as conn:
        return {r.id for r in conn.execute(sa.select(resources.c.id).where(resources.c.patient_id == patient))}


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("dept", ["primary-care", "cardiology", "emergency"])
def test_a_department_token_is_refused_on_every_patient_route(records, mint, method, path, body, dept):
    client, _ = records
    resp = getattr(client, method)(path, json=body, headers=mint.department(dept))
    assert resp.status_code == 403 and resp.content_type == "application/problem+json"


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_a_department_token_that_names_a_patient_is_still_refused(records, mint, method, path, body):
    client, _ = records
    token = mint.token(scope=f"system/*.cruds {SCOPE}", dept="primary-care", patient=GUSTAVO)
    resp = getattr(client, method)(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_a_request_without_a_token_is_401(records, method, path, body):
    client, _ = records
    assert getattr(client, method)(path, json=body).status_code == 401


def test_a_token_without_a_patient_claim_is_refused(records, mint):
    client, _ = records
    assert client.get("/patient/v1/records", headers=_as(mint, None)).status_code == 403


def test_the_list_holds_only_the_token_patients_records(records, mint):
    client, engine = records
    mine, theirs = _ids(engine, LIZ), _ids(engine, GUSTAVO)
    url, seen = "/patient/v1/records?limit=100", set()
    while url:
        body = client.get(url, headers=_as(mint, LIZ)).get_json()
        seen |= {i["id"] for i in body["items"]}
        url = f"/patient/v1/records?limit=100&cursor={body['next']}" if body["next"] else None
    assert seen and seen <= mine and not seen & theirs


def test_another_patients_record_is_404_and_shows_no_data(records, mint):
    client, engine = records
    theirs = next(iter(_ids(engine, GUSTAVO) - {GUSTAVO}))
    resp = client.get(f"/patient/v1/records/{theirs}", headers=_as(mint, LIZ))
    assert resp.status_code == 404
    text = resp.get_data(as_text=True)
    assert theirs not in text.replace(f"/patient/v1/records/{theirs}", "") and "Mej" not in text


def test_a_cursor_from_another_patient_does_not_leak_their_records(records, mint):
    client, engine = records
    cursor = client.get("/patient/v1/records", headers=_as(mint, GUSTAVO)).get_json()["next"]
    body = client.get(f"/patient/v1/records?cursor={cursor}", headers=_as(mint, LIZ)).get_json()
    assert {i["id"] for i in body["items"]} <= _ids(engine, LIZ)


def test_an_entry_always_lands_in_the_token_patients_compartment(records, mint):
    client, engine = records
    before = _ids(engine, GUSTAVO)
    resp = client.post("/patient/v1/entries", headers=_as(mint, LIZ),
                       json={"kind": "weight", "value": 70, "unit": "kg", "subject": f"Patient/{GUSTAVO}"})
    assert resp.status_code == 422 and _ids(engine, GUSTAVO) == before
    ok = client.post("/patient/v1/entries", headers=_as(mint, LIZ), json={"kind": "weight", "value": 70, "unit": "kg"})
    assert ok.status_code == 201 and ok.get_json()["id"] in _ids(engine, LIZ)


def test_entries_need_the_observation_create_scope(records, mint):
    client, engine = records
    before = _ids(engine, LIZ)
    resp = client.post("/patient/v1/entries", headers=_as(mint, LIZ, scope="openid patient/*.rs"),
                       json={"kind": "weight", "value": 70, "unit": "kg"})
    assert resp.status_code == 403 and _ids(engine, LIZ) == before


def test_a_patient_cannot_amend_another_patients_record_even_by_reference(records, mint):
    client, engine = records
    theirs = next(iter(_ids(engine, GUSTAVO) - {GUSTAVO}))
    for record_id in (theirs, f"Observation/{theirs}", GUSTAVO, f"Patient/{GUSTAVO}"):
        resp = client.post("/patient/v1/amendments", headers=_as(mint, LIZ),
                           json={"record_id": record_id, "what_is_wrong": "x", "correction": "y"})
        assert resp.status_code == 404, record_id
    listed = client.get("/patient/v1/amendments", headers=_as(mint, GUSTAVO)).get_json()
    assert listed["items"] == []
