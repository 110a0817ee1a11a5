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
    client.post("/fhir", json=small_bundle("c-2", observations=0), headers=mint.department())  # its patient
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
    client.post("/fhir", json=small_bundle("c-3", observations=0), headers=mint.department())  # its patient
    obs = _observation("c-3", identifier=[{"system": "urn:lab", "value": "43"}])
    made = client.post("/fhir/Observation", json=obs,
                       headers={**mint.department(), "If-None-Exist": "identifier=urn:lab|43"})
    assert made.status_code == 201, made.get_data(as_text=True)
    count = _count(engine, resources)
    resp = client.post("/fhir/Observation", json=obs,
                       headers={**mint.department("cardiology"), "If-None-Exist": "identifier=urn:lab|43"})
    assert resp.status_code == 412 and resp.content_type == FHIR
    assert "Heart rate" not in resp.get_data(as_text=True) and _count(engine, resources) == count


def test_a_conditional_create_that_matches_several_is_a_412_and_stores_nothing(records, mint):
    client, engine = records
    client.post("/fhir", json=small_bundle("c-4", observations=0), headers=mint.department())  # its patient
    obs = _observation("c-4", identifier=[{"system": "urn:lab", "value": "44"}])
    for _ in range(2):  # plain creates: nothing stops two resources sharing an identifier
        assert client.post("/fhir/Observation", json=obs, headers=mint.department()).status_code == 201
    count, events = _count(engine, resources), len(_events(engine))
    resp = client.post("/fhir/Observation", json=obs,
                       headers={**mint.department(), "If-None-Exist": "identifier=urn:lab|44"})
    assert resp.status_code == 412 and resp.content_type == FHIR
    issue = resp.get_json()["issue"][0]
    assert issue["code"] == "multiple-matches" and issue["expression"] == ["If-None-Exist"]
    assert _count(engine, resources) == count and len(_events(engine)) == events


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


def test_an_update_whose_reference_names_nothing_stored_is_a_422_and_changes_nothing(records, mint):
    client, engine = records
    client.post("/fhir", json=small_bundle("c-9", observations=0), headers=mint.department())
    made = client.post("/fhir/Observation", json=_observation("c-9"), headers=mint.department()).get_json()
    count, events = _count(engine, resources), len(_events(engine))
    changed = {**made, "subject": {"reference": "Patient/nobody-here"}}
    resp = client.put(f"/fhir/Observation/{made['id']}", json=changed, headers=mint.department())
    assert resp.status_code == 422 and resp.content_type == FHIR
    assert "Patient/nobody-here" in resp.get_json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/Observation/{made['id']}", headers=mint.department()).get_json()["meta"][
        "versionId"] == "1"
    assert _count(engine, resources) == count and len(_events(engine)) == events


def _two_patients(client, mint) -> tuple[dict, dict]:
    mine, theirs = small_bundle("p-own", observations=2), small_bundle("p-other", observations=1)
    client.post("/fhir", json=mine, headers=mint.department())
    client.post("/fhir", json=theirs, headers=mint.department("cardiology"))
    return mine, theirs


def test_a_patients_app_reads_searches_and_pages_its_own_compartment(records, mint):
    client, _ = records
    mine, _ = _two_patients(client, mint)
    app = mint.patient("p-own", scope="patient/*.rs")
    oid = mine["entry"][1]["resource"]["id"]
    read = client.get(f"/fhir/Observation/{oid}", headers=app)
    assert read.status_code == 200 and read.get_json()["subject"] == {"reference": "Patient/p-own"}
    assert client.get("/fhir/Patient/p-own", headers=app).status_code == 200
    found = client.get("/fhir/Observation?_count=1", headers=app).get_json()
    assert found["total"] == 2 and len(found["entry"]) == 1
    nxt = next(link["url"] for link in found["link"] if link["relation"] == "next")
    rest = client.get(nxt, headers=app).get_json()
    ids = {found["entry"][0]["resource"]["id"], rest["entry"][0]["resource"]["id"]}
    assert ids == {e["resource"]["id"] for e in mine["entry"][1:]}
    hist = client.get(f"/fhir/Observation/{oid}/_history", headers=app)
    assert hist.status_code == 200 and hist.get_json()["total"] == 1
    assert client.get(f"/fhir/Observation/{oid}/_history/1", headers=app).status_code == 200


def test_a_patients_app_gets_404_for_another_patients_resource_and_sees_none_in_search(records, mint):
    client, _ = records
    _, theirs = _two_patients(client, mint)
    app = mint.patient("p-own", scope="patient/*.rs")
    oid = theirs["entry"][1]["resource"]["id"]
    for path in (f"/fhir/Observation/{oid}", "/fhir/Patient/p-other", f"/fhir/Observation/{oid}/_history",
                 f"/fhir/Observation/{oid}/_history/1"):
        resp = client.get(path, headers=app)
        assert resp.status_code == 404 and resp.content_type == FHIR, path
        assert "Heart rate" not in resp.get_data(as_text=True) and "Ana" not in resp.get_data(as_text=True)
        assert oid not in resp.get_json()["detail"] and "p-other" not in json.dumps(resp.get_json()["issue"])
    search = client.get("/fhir/Observation?patient=p-other", headers=app).get_json()
    assert search["total"] == 0 and search.get("entry", []) == []


def test_a_patients_app_needs_a_scope_for_the_type_and_cannot_write(records, mint):
    client, engine = records
    mine, _ = _two_patients(client, mint)
    oid = mine["entry"][1]["resource"]["id"]
    only_conditions = mint.patient("p-own", scope="patient/Condition.rs")
    assert client.get(f"/fhir/Observation/{oid}", headers=only_conditions).status_code == 403
    assert client.get("/fhir/Observation", headers=only_conditions).status_code == 403
    writer = mint.patient("p-own", scope="patient/*.cruds")
    observation = client.get(f"/fhir/Observation/{oid}", headers=writer).get_json()
    count = _count(engine, resources)
    assert client.put(f"/fhir/Observation/{oid}", json=observation, headers=writer).status_code == 403
    assert client.post("/fhir/Observation", json=observation, headers=writer).status_code == 403
    assert client.post("/fhir", json=small_bundle("p-own"), headers=writer).status_code == 403
    assert _count(engine, resources) == count


def test_a_caregivers_token_reads_only_the_types_the_patient_gave(records, mint):
    client, _ = records
    mine, _ = _two_patients(client, mint)
    oid = mine["entry"][1]["resource"]["id"]
    caregiver = mint.patient("p-own", scope="patient/Patient.r", act={"sub": "carer-1"})
    assert client.get("/fhir/Patient/p-own", headers=caregiver).status_code == 200
    refused = client.get(f"/fhir/Observation/{oid}", headers=caregiver)
    assert refused.status_code == 403 and refused.content_type == FHIR


def test_a_patients_app_does_not_read_types_the_patients_own_views_do_not_show(records, mint):
    client, _ = records
    client.post("/fhir", json=small_bundle("p-own", observations=0), headers=mint.department())
    claim = {"resourceType": "Claim", "status": "active", "use": "claim", "created": "2020-01-01",
             "type": {"text": "x"}, "patient": {"reference": "Patient/p-own"},
             "provider": {"display": "Clinic"}, "priority": {"text": "normal"},
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Plan"}}]}
    created = client.post("/fhir/Claim", json=claim, headers=mint.department())
    assert created.status_code == 201, created.get_data(as_text=True)
    app = mint.patient("p-own", scope="patient/*.rs")
    assert client.get(f"/fhir/Claim/{created.get_json()['id']}", headers=app).status_code == 404
    assert client.get("/fhir/Claim", headers=app).get_json()["total"] == 0


def _with_encounter_and_medication(client, mint, patient: str) -> dict:
    enc, med, obs, req = (f"{patient}-{k}" for k in ("enc", "med", "obs", "req"))
    entries = [
        {"resourceType": "Patient", "id": patient, "birthDate": "1980-02-03"},
        {"resourceType": "Encounter", "id": enc, "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": f"Patient/{patient}"}},
        {"resourceType": "Medication", "id": med, "code": {"text": "Aspirin"}},
        {**_observation(patient), "id": obs, "encounter": {"reference": f"Encounter/{enc}"}},
        {"resourceType": "MedicationRequest", "id": req, "status": "active", "intent": "order",
         "medicationReference": {"reference": f"Medication/{med}"}, "subject": {"reference": f"Patient/{patient}"}},
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in entries]}
    resp = client.post("/fhir", json=bundle, headers=mint.department())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"enc": enc, "med": med, "obs": obs, "req": req}


def _modes(bundle: dict) -> dict[str, str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["search"]["mode"] for e in bundle["entry"]}


def test_include_and_revinclude_add_the_common_pairs_marked_include(records, mint):
    client, _ = records
    ids = _with_encounter_and_medication(client, mint, "i-1")
    obs = client.get("/fhir/Observation?patient=i-1&_include=Observation:subject&_include=Observation:encounter",
                     headers=mint.department()).get_json()
    assert _modes(obs) == {f"Observation/{ids['obs']}": "match", "Patient/i-1": "include",
                           f"Encounter/{ids['enc']}": "include"}
    assert obs["total"] == 1
    meds = client.get("/fhir/MedicationRequest?_include=MedicationRequest:medication",
                      headers=mint.department()).get_json()
    assert _modes(meds) == {f"MedicationRequest/{ids['req']}": "match", f"Medication/{ids['med']}": "include"}
    encounters = client.get("/fhir/Encounter?_revinclude=Observation:encounter", headers=mint.department()).get_json()
    assert _modes(encounters) == {f"Encounter/{ids['enc']}": "match", f"Observation/{ids['obs']}": "include"}


def test_include_never_adds_what_the_reader_may_not_see(records, mint):
    client, _ = records
    _with_encounter_and_medication(client, mint, "i-2")
    # cardiology holds an Observation pointing at primary care's Patient and Encounter
    client.post("/fhir/Observation", json=_observation("i-2", encounter={"reference": "Encounter/i-2-enc"}),
                headers=mint.department("cardiology"))
    theirs = client.get("/fhir/Observation?_include=Observation:subject&_include=Observation:encounter",
                        headers=mint.department("cardiology")).get_json()
    assert set(_modes(theirs).values()) == {"match"}
    app = client.get("/fhir/Observation?_include=MedicationRequest:medication", headers=mint.patient("i-2"))
    assert app.status_code == 400
    mine = client.get("/fhir/Encounter?_revinclude=Observation:encounter", headers=mint.patient("i-2")).get_json()
    assert all(e["resource"]["subject"]["reference"] == "Patient/i-2" for e in mine["entry"]
               if e["resource"]["resourceType"] == "Observation")


def test_summary_count_answers_the_total_alone(records, mint):
    client, _ = records
    client.post("/fhir", json=small_bundle("s-1", observations=3), headers=mint.department())
    body = client.get("/fhir/Observation?patient=s-1&_summary=count", headers=mint.department()).get_json()
    assert body["total"] == 3 and "entry" not in body
    assert client.get("/fhir/Observation?_summary=text", headers=mint.department()).status_code == 400


def test_elements_keeps_the_named_elements_and_marks_the_resource_subsetted(records, mint):
    client, _ = records
    client.post("/fhir", json=small_bundle("s-2", observations=1), headers=mint.department())
    body = client.get("/fhir/Observation?patient=s-2&_elements=code,subject", headers=mint.department()).get_json()
    resource = body["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "code", "subject"}
    assert {"code": "SUBSETTED"}.items() <= resource["meta"]["tag"][0].items()
    bad = client.get("/fhir/Observation?_elements=code;drop", headers=mint.department())
    assert bad.status_code == 400 and bad.get_json()["issue"][0]["expression"] == ["_elements"]


def test_an_include_that_does_not_fit_the_search_is_a_400_naming_it(records, mint):
    client, _ = records
    for value in ("Observation:performer", "MedicationRequest:medication", "Observation:subject:Group"):
        resp = client.get(f"/fhir/Observation?_include={value}", headers=mint.department())
        assert resp.status_code == 400 and resp.get_json()["issue"][0]["expression"] == ["_include"], value


def test_the_custodian_deletes_a_resource_which_is_then_gone_with_its_history_kept(records, mint):
    client, engine = records
    bundle = small_bundle("d-1", observations=1)
    client.post("/fhir", json=bundle, headers=mint.department())
    oid = bundle["entry"][1]["resource"]["id"]
    assert client.delete(f"/fhir/Observation/{oid}", headers=mint.department()).status_code == 204
    gone = client.get(f"/fhir/Observation/{oid}", headers=mint.department())
    assert gone.status_code == 410 and gone.content_type == FHIR
    assert client.get(f"/fhir/Observation/{oid}", headers=mint.department("cardiology")).status_code == 404
    hist = client.get(f"/fhir/Observation/{oid}/_history", headers=mint.department()).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in hist["entry"]] == ["1"]
    assert client.get("/fhir/Observation?patient=d-1", headers=mint.department()).get_json()["total"] == 0
    assert client.get(f"/fhir/Observation/{oid}", headers=mint.patient("d-1")).status_code == 404
    assert client.delete(f"/fhir/Observation/{oid}", headers=mint.department()).status_code == 204
    again = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**bundle["entry"][1]["resource"], "subject": {"reference": "Patient/d-1"}},
         "request": {"method": "PUT", "url": f"Observation/{oid}"}}]}
    assert client.post("/fhir", json=again, headers=mint.department()).status_code == 200
    back = client.get(f"/fhir/Observation/{oid}", headers=mint.department())
    assert back.status_code == 200 and back.headers["ETag"] == 'W/"3"'


def test_another_department_cannot_delete_and_changes_nothing(records, mint):
    client, engine = records
    bundle = small_bundle("d-2", observations=1)
    client.post("/fhir", json=bundle, headers=mint.department())
    oid = bundle["entry"][1]["resource"]["id"]
    count = _count(engine, resources)
    other = client.delete(f"/fhir/Observation/{oid}", headers=mint.department("cardiology"))
    assert other.status_code == 404 and other.content_type == FHIR
    no_scope = client.delete(f"/fhir/Observation/{oid}", headers=mint.department(scope="system/*.cru"))
    assert no_scope.status_code == 403
    patient = client.delete(f"/fhir/Observation/{oid}", headers=mint.patient("d-2", scope="patient/*.cruds"))
    assert patient.status_code == 403
    assert client.delete("/fhir/Observation/no-such-id", headers=mint.department()).status_code == 404
    assert _count(engine, resources) == count
    assert client.get(f"/fhir/Observation/{oid}", headers=mint.department()).status_code == 200
