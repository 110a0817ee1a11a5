"""The patient-facing records API on a real database (SQLite and PostgreSQL) with real tokens.

Every response under /patient/v1/ is also checked by the accessibility plugin (tests/support).
"""
import json

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.task import Task

from services.records.adapters.tables import outbox, resources
from tests.support.fhir import demo_bundle, small_bundle

GUSTAVO = "cdf500b9-7cc4-424d-a86c-a18e6620d6e7"  # prefers Spanish
LIZ = "ee9f8dd8-72d2-4769-8020-89e504b1504b"      # prefers en-US
NED = "616eaeb2-a67a-44e5-a7e6-9bbd85e47c5c"      # prefers Portuguese (not supported)
PATIENT_SCOPE = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c "
                 "patient/Task.c")
VISIBLE = ("Observation", "Condition", "Immunization", "MedicationRequest", "Procedure", "Encounter",
           "DiagnosticReport", "CarePlan")


@pytest.fixture(autouse=True)
def three_patients(records, mint):
    """Every test starts with Gustavo, Liz and Ned imported by primary care."""
    for name in ("Gustavo_Mejia", "Liz_Conn", "Ned_Hintz"):
        assert records.client.post("/fhir", json=demo_bundle(name), headers=mint.department()).status_code == 200


def _patient(mint, patient, **claims):
    return mint.patient(patient, scope=PATIENT_SCOPE, sub=f"acct-{patient[:6]}", fhirUser=f"Patient/{patient}",
                        **claims)


def _all_pages(client, headers, query=""):
    items, url, pages = [], f"/patient/v1/records{query}", 0
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        items.extend(body["items"])
        pages += 1
        sep = "&" if "?" in query else "?"
        url = f"/patient/v1/records{query}{sep}cursor={body['next']}" if body["next"] else None
    return items, pages


def _count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


# -- me --------------------------------------------------------------------------------------------

def test_a_patient_reads_their_details_in_their_preferred_language(records, mint):
    client, _ = records
    resp = client.get("/patient/v1/me", headers=_patient(mint, GUSTAVO))
    assert resp.status_code == 200 and resp.headers["Content-Language"] == "es"
    body = resp.get_json()
    assert body["name"] == "Gustavo Mejía"
    assert body["preferred_language"] == {"code": "es", "display": "español"}
    assert body["interpreter_needed"] is False and body["proxies"] == []
    assert body["custodian"] == {"department": "primary-care", "display": "Atención primaria"}
    assert body["birth_date"]["display"] == "27 de noviembre de 1986"


def test_a_portuguese_speaker_is_shown_english_and_offered_an_interpreter(records, mint):
    client, _ = records
    body = client.get("/patient/v1/me", headers=_patient(mint, NED)).get_json()
    assert body["interpreter_needed"] is True
    assert body["language"]["requested"] == "pt" and body["language"]["used"] == "en"
    assert body["language"]["fallback"] is True and body["language"]["interpreter"]["offered"] is True
    assert "Portuguese" in body["language"]["message"]


def test_accept_language_wins_over_the_token_locale_and_the_patient_preference(records, mint):
    client, _ = records
    headers = _patient(mint, GUSTAVO, locale="es")
    resp = client.get("/patient/v1/records?limit=1", headers={**headers, "Accept-Language": "en"})
    assert resp.headers["Content-Language"] == "en"
    assert resp.get_json()["items"][0]["status"]["status_text"] in ("Final result", "Finished", "Given",
                                                                    "Done", "Active", "Resolved")


def test_the_token_locale_claim_decides_when_there_is_no_header(records, mint):
    client, _ = records
    resp = client.get("/patient/v1/me", headers=_patient(mint, LIZ, locale="es"))
    assert resp.headers["Content-Language"] == "es"
    assert resp.get_json()["preferred_language"]["display"] == "inglés"


# -- records ---------------------------------------------------------------------------------------

def test_records_come_in_pages_of_twenty_that_cover_the_whole_compartment_newest_first(records, mint):
    client, engine = records
    first = client.get("/patient/v1/records", headers=_patient(mint, LIZ)).get_json()
    assert len(first["items"]) == 20 and first["next"]
    items, pages = _all_pages(client, _patient(mint, LIZ))
    expected = _count(engine, resources, resources.c.patient_id == LIZ, resources.c.resource_type.in_(VISIBLE))
    assert len(items) == expected and len({i["reference"] for i in items}) == expected
    assert pages == -(-expected // 20)
    dates = [i["date"]["iso"][:19] for i in items if i["date"]]
    assert dates == sorted(dates, reverse=True)


def test_every_item_has_the_patient_facing_shape_in_spanish(records, mint):
    client, _ = records
    items, _ = _all_pages(client, _patient(mint, GUSTAVO))
    for item in items:
        assert {"id", "kind", "title", "summary", "date", "status", "source"} <= set(item)
        assert item["summary"].endswith(".") and item["status"]["status_text"]
        assert item["source"] == {"department": "primary-care", "display": "Atención primaria"}
        assert " de " in item["date"]["display"]  # "26 de marzo de 2020"
        assert "untranslated" not in item, item  # every code of the demo patients has a plain name
    pressure = next(i for i in items if i["code"] and i["code"]["code"] == "55284-4")
    assert pressure["title"] == "Presión arterial"
    assert pressure["value"]["unit"] == "mm[Hg]"
    assert pressure["value"]["display"].endswith("milímetros de mercurio")
    assert " sobre " in pressure["value"]["display"] and len(pressure["components"]) == 2


def test_records_can_be_filtered_by_category(records, mint):
    client, _ = records
    shots, _ = _all_pages(client, _patient(mint, GUSTAVO), "?category=immunizations")
    assert len(shots) == 5 and {i["kind"] for i in shots} == {"immunization"}
    vitals, _ = _all_pages(client, _patient(mint, GUSTAVO), "?category=vital-signs")
    assert vitals and {i["kind"] for i in vitals} == {"vital-sign"}


@pytest.mark.parametrize("query, field", [("?category=x-rays", "category"), ("?limit=0", "limit"),
                                          ("?limit=1000", "limit"), ("?limit=%C2%B3", "limit"),
                                          ("?cursor=%%%", "cursor")])
def test_a_bad_query_is_a_422_problem_naming_the_parameter(records, mint, query, field):
    client, _ = records
    resp = client.get(f"/patient/v1/records{query}", headers=_patient(mint, LIZ))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert resp.get_json()["fields"] == [field] and resp.get_json()["next_step"]


def test_an_unchanged_page_answers_304_and_a_new_entry_changes_the_etag(records, mint):
    client, _ = records
    headers = _patient(mint, LIZ)
    first = client.get("/patient/v1/records", headers=headers)
    etag = first.headers["ETag"]
    again = client.get("/patient/v1/records", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and not again.get_data()
    me = client.get("/patient/v1/me", headers=headers)
    assert client.get("/patient/v1/me", headers={**headers, "If-None-Match": me.headers["ETag"]}).status_code == 304
    client.post("/patient/v1/entries", json={"kind": "weight", "value": 70.5, "unit": "kg"}, headers=headers)
    changed = client.get("/patient/v1/records", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    spanish = client.get("/patient/v1/records", headers={**headers, "Accept-Language": "es"})
    assert spanish.headers["ETag"] != changed.headers["ETag"]


def test_a_code_without_a_plain_name_shows_its_display_marked_untranslated(records, mint):
    client, _ = records
    bundle = small_bundle("pat-odd", observations=1)
    bundle["entry"][1]["resource"].update(
        code={"coding": [{"system": "http://loinc.org", "code": "99999-9", "display": "Zinc protoporphyrin"}]},
        valueQuantity={"value": 3, "unit": "ug/g", "system": "http://unitsofmeasure.org", "code": "ug/g"})
    client.post("/fhir", json=bundle, headers=mint.department())
    item = client.get("/patient/v1/records", headers=_patient(mint, "pat-odd")).get_json()["items"][0]
    assert item["untranslated"] is True and item["title"] == "Zinc protoporphyrin"
    assert item["summary"] == "Your care team wrote down a result." or "result" in item["summary"]
    assert item["value"] == {"value": 3, "unit": "ug/g"}  # no display rather than a symbol


def test_one_record_is_readable_by_its_id(records, mint):
    client, _ = records
    first = client.get("/patient/v1/records?limit=1", headers=_patient(mint, LIZ)).get_json()["items"][0]
    resp = client.get(f"/patient/v1/records/{first['id']}", headers=_patient(mint, LIZ))
    assert resp.status_code == 200 and resp.get_json()["reference"] == first["reference"]
    assert client.get("/patient/v1/records/nope", headers=_patient(mint, LIZ)).status_code == 404


# -- entries ---------------------------------------------------------------------------------------

def test_a_home_blood_pressure_is_a_patient_reported_observation_the_custodian_can_read(records, mint):
    client, engine = records
    resp = client.post("/patient/v1/entries", headers=_patient(mint, GUSTAVO),
                       json={"kind": "blood-pressure", "systolic": 128, "diastolic": 84,
                             "when": "2026-11-20T08:30:00+01:00"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    item = resp.get_json()
    assert item["kind"] == "patient-reported" and item["patient_reported"] is True
    assert item["value"]["display"] == "128 sobre 84 milímetros de mercurio"
    assert item["date"] == {"iso": "2026-11-20T08:30:00+01:00", "display": "20 de noviembre de 2026"}
    assert item["source"]["department"] == "primary-care"

    fhir = client.get(f"/fhir/Observation/{item['id']}", headers=mint.department())
    assert fhir.status_code == 200
    obs = fhir.get_json()
    Observation.model_validate(obs)
    assert obs["performer"] == [{"reference": f"Patient/{GUSTAVO}"}]
    assert obs["subject"] == {"reference": f"Patient/{GUSTAVO}"}
    assert {"code": "patient-reported"}.items() <= obs["meta"]["tag"][0].items()
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [128, 84]
    assert client.get(f"/fhir/Observation/{item['id']}", headers=mint.department("cardiology")).status_code == 404
    with engine.connect() as conn:
        events = [json.loads(r.payload) for r in conn.execute(sa.select(outbox))]
    assert events[-1]["type"] == "phr.records.imported" and events[-1]["subject"] == GUSTAVO


@pytest.mark.parametrize("entry, title", [
    ({"kind": "weight", "value": 165, "unit": "[lb_av]"}, "Weight"),
    ({"kind": "glucose", "value": 5.4, "unit": "mmol/L"}, "Blood sugar"),
    ({"kind": "glucose", "value": 98, "unit": "mg/dL", "note": "Before breakfast"}, "Blood sugar"),
    ({"kind": "symptom", "note": "Headache since Monday, worse in the morning."}, "Note about how you feel")])
def test_every_kind_of_entry_is_listed_under_patient_reported(records, mint, entry, title):
    client, _ = records
    resp = client.post("/patient/v1/entries", json=entry, headers=_patient(mint, LIZ))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["title"] == title
    mine = client.get("/patient/v1/records?category=patient-reported", headers=_patient(mint, LIZ)).get_json()
    assert [i["id"] for i in mine["items"]] == [resp.get_json()["id"]]
    if entry["kind"] == "symptom":
        assert mine["items"][0]["note"] == entry["note"]


@pytest.mark.parametrize("entry, field", [
    ({"kind": "blood-pressure", "systolic": 120}, "diastolic"),
    ({"kind": "blood-pressure", "systolic": 80, "diastolic": 120}, "diastolic"),
    ({"kind": "blood-pressure", "systolic": 900, "diastolic": 80}, "systolic"),
    ({"kind": "weight", "value": 70, "unit": "stone"}, "unit"),
    ({"kind": "glucose", "value": -3, "unit": "mg/dL"}, "value"),
    ({"kind": "symptom", "note": ""}, "note"),
    ({"kind": "mood"}, "kind"),
    ({"kind": "weight", "value": 70, "unit": "kg", "when": "2999-01-01T00:00:00+00:00"}, "when"),
    ({"kind": "weight", "value": 70, "unit": "kg", "patient": "someone-else"}, "patient")])
def test_a_bad_entry_is_a_422_naming_the_field_and_stores_nothing(records, mint, entry, field):
    client, engine = records
    before = _count(engine, resources), _count(engine, outbox)
    resp = client.post("/patient/v1/entries", json=entry, headers=_patient(mint, LIZ))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert field in resp.get_json()["fields"]
    assert (_count(engine, resources), _count(engine, outbox)) == before


# -- amendments ------------------------------------------------------------------------------------

def test_a_correction_request_is_a_task_for_the_custodian_whose_status_the_patient_follows(records, mint):
    client, engine = records
    headers = _patient(mint, LIZ)
    record = client.get("/patient/v1/records?category=conditions", headers=headers).get_json()["items"][0]
    resp = client.post("/patient/v1/amendments", headers=headers, json={
        "record_id": record["id"], "what_is_wrong": "I never had high blood pressure.",
        "correction": "Please remove it."})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    amendment = resp.get_json()
    assert amendment["status"] == {"code": "requested", "status_text": "Sent. Waiting for review."}
    assert amendment["record"] == record["reference"] and amendment["title"] == record["title"]

    task = client.get(f"/fhir/Task/{amendment['id']}", headers=mint.department()).get_json()
    Task.model_validate(task)
    assert task["status"] == "requested" and task["focus"] == {"reference": record["reference"]}
    assert task["for"] == {"reference": f"Patient/{LIZ}"}
    assert task["owner"]["identifier"]["value"] == "primary-care"
    with engine.connect() as conn:
        types = [json.loads(r.payload)["type"] for r in conn.execute(sa.select(outbox))]
    assert types[-1] == "phr.records.amendment-requested"

    # The custodian accepts it through its FHIR API: a version-aware update of the Task.
    task_resp = client.get(f"/fhir/Task/{amendment['id']}", headers=mint.department())
    updated = client.put(f"/fhir/Task/{amendment['id']}", json={**task_resp.get_json(), "status": "accepted"},
                         headers={**mint.department(), "If-Match": task_resp.headers["ETag"]})
    assert updated.status_code == 200, updated.get_data(as_text=True)
    with engine.connect() as conn:
        last = json.loads(conn.execute(sa.select(outbox).order_by(outbox.c.seq.desc())).first().payload)
    assert last["type"] == "phr.records.amendment-updated"
    assert (last["data"]["status"], last["data"]["previous_status"]) == ("accepted", "requested")
    assert last["subject"] == LIZ and last["data"]["task"] == f"Task/{amendment['id']}"
    listed = client.get("/patient/v1/amendments", headers={**headers, "Accept-Language": "es"}).get_json()
    assert [a["status"] for a in listed["items"]] == [{"code": "accepted",
                                                       "status_text": "Aceptado. Lo vamos a corregir."}]
    assert listed["items"][0]["what_is_wrong"] == "I never had high blood pressure."


def test_a_patient_cannot_ask_to_correct_another_patients_record(records, mint):
    client, engine = records
    theirs = client.get("/patient/v1/records?limit=1", headers=_patient(mint, GUSTAVO)).get_json()["items"][0]
    before = _count(engine, resources)
    resp = client.post("/patient/v1/amendments", headers=_patient(mint, LIZ), json={
        "record_id": theirs["id"], "what_is_wrong": "x", "correction": "y"})
    assert resp.status_code == 404 and theirs["title"] not in resp.get_data(as_text=True)
    assert _count(engine, resources) == before


@pytest.mark.parametrize("body, field", [({"what_is_wrong": "x", "correction": "y"}, "record_id"),
                                         ({"record_id": "a b", "what_is_wrong": "x", "correction": "y"}, "record_id"),
                                         ({"record_id": "abc", "correction": "y"}, "what_is_wrong"),
                                         ({"record_id": "abc", "what_is_wrong": "x", "correction": ""}, "correction")])
def test_a_bad_correction_request_is_a_422_naming_the_field(records, mint, body, field):
    client, engine = records
    before = _count(engine, resources)
    resp = client.post("/patient/v1/amendments", json=body, headers=_patient(mint, LIZ))
    assert resp.status_code == 422 and field in resp.get_json()["fields"]
    assert _count(engine, resources) == before


def test_problems_speak_the_patients_language_with_a_next_step(records, mint):
    client, _ = records
    resp = client.post("/patient/v1/entries", json={"kind": "weight"}, headers=_patient(mint, GUSTAVO))
    body = resp.get_json()
    assert resp.status_code == 422 and resp.headers["Content-Language"] == "es"
    assert body["detail"] == "Algo de lo que envió no está bien."
    assert body["next_step"].startswith("Corrija") and body["fields"] == ["unit", "value"]


def test_a_correction_request_made_by_a_caregiver_says_so_in_the_task(records, mint):
    client, _ = records
    headers = mint.patient(LIZ, scope=PATIENT_SCOPE, sub="liz-account", act={"sub": "carer-7"})
    record = client.get("/patient/v1/records?category=conditions", headers=headers).get_json()["items"][0]
    resp = client.post("/patient/v1/amendments", headers=headers, json={
        "record_id": record["id"], "what_is_wrong": "Wrong date.", "correction": "It was in May."})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    task = client.get(f"/fhir/Task/{resp.get_json()['id']}", headers=mint.department()).get_json()
    assert task["requester"]["identifier"]["value"] == "carer-7"
    assert any(t["code"] == "entered-by-proxy" for t in task["meta"]["tag"])
    assert task["for"] == {"reference": f"Patient/{LIZ}"}
