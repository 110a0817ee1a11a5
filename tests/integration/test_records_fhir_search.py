"""Records FHIR API beyond import: every Synthea bundle, conditional references, search, history,
updates, sensitivity labels and the phr.records.fetch claim check (SQLite and PostgreSQL)."""
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.events import problems
from contracts.schemas.fhir import HistoryBundleSchema, SearchsetBundleSchema
from services.common.db import transaction
from services.records.adapters.tables import claim_checks, outbox, resources
from services.records.entrypoints.worker import fetch_handlers
from tests.support.fhir import small_bundle

SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-r4"


def _stored_types(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.select(resources.c.resource_type, sa.func.count())
                                         .group_by(resources.c.resource_type)).all()))


def test_every_synthea_bundle_imports_with_nothing_lost(records, mint):
    client, engine = records
    files = sorted(SYNTHEA.glob("*_*-*.json")) + sorted(SYNTHEA.glob("*Information*.json"))
    assert len(files) == 27
    sent: dict[tuple[str, str], str] = {}
    for path in files:
        bundle = json.loads(path.read_text())
        resp = client.post("/fhir", json=bundle, headers=mint.department())
        assert resp.status_code == 200, (path.name, resp.get_data(as_text=True)[:500])
        assert len(resp.get_json()["entry"]) == len(bundle["entry"])
        for e in bundle["entry"]:
            sent[(e["resource"]["resourceType"], e["resource"]["id"])] = path.name
    expected = Counter(rtype for rtype, _ in sent)
    assert _stored_types(engine) == expected
    assert expected["Observation"] == 1162 and expected["Patient"] == 25


def test_a_procedure_with_a_listed_code_is_labelled_and_the_senders_labels_are_kept(records, mint):
    client, _ = records
    bundle = small_bundle("lab-1", observations=1)
    sender_label = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}
    bundle["entry"][1]["resource"]["meta"] = {"security": [sender_label]}
    bundle["entry"][1]["resource"]["code"] = {"coding": [{"system": "http://loinc.org", "code": "75622-1"}],
                                              "text": "HIV test"}
    bundle["entry"].append({"request": {"method": "POST", "url": "Procedure"}, "resource": {
        "resourceType": "Procedure", "id": "tubal-1", "status": "completed",
        "subject": {"reference": "Patient/lab-1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "287664005"}], "text": "Tubal ligation"}}})
    assert client.post("/fhir", json=bundle, headers=mint.department()).status_code == 200
    obs = client.get(f"/fhir/Observation/{bundle['entry'][1]['resource']['id']}", headers=mint.department()).get_json()
    assert {s["code"] for s in obs["meta"]["security"]} == {"PSY", "HIV"}
    proc = client.get("/fhir/Procedure/tubal-1", headers=mint.department()).get_json()
    assert [s["code"] for s in proc["meta"]["security"]] == ["SEX"]
    patient = client.get("/fhir/Patient/lab-1", headers=mint.department()).get_json()
    assert "security" not in patient["meta"]


def _org(oid, value):
    return {"fullUrl": f"urn:uuid:{oid}", "request": {"method": "POST", "url": "Organization"},
            "resource": {"resourceType": "Organization", "id": oid, "name": "Clinic",
                         "identifier": [{"system": "https://example.org/orgs", "value": value}]}}


def _encounter(patient, org_ref):
    return {"request": {"method": "POST", "url": "Encounter"}, "resource": {
        "resourceType": "Encounter", "id": str(uuid.uuid4()), "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"}, "serviceProvider": {"reference": org_ref}}}


def test_conditional_references_resolve_to_a_stored_or_bundled_organization_or_refuse_the_bundle(records, mint):
    client, _ = records
    first = small_bundle("cond-1", observations=0)
    first["entry"] += [_org("org-a", "A1"), _encounter("cond-1", "Organization?identifier=https://example.org/orgs|A1")]
    assert client.post("/fhir", json=first, headers=mint.department()).status_code == 200
    second = small_bundle("cond-2", observations=0)
    second["entry"] += [_encounter("cond-2", "Organization?identifier=https://example.org/orgs|A1"),
                        _encounter("cond-2", "Organization?identifier=https://example.org/orgs|NOPE")]
    refused = client.post("/fhir", json=second, headers=mint.department())
    assert refused.status_code == 422
    assert refused.get_json()["issue"][0]["expression"] == ["Bundle.entry[2].resource.serviceProvider.reference"]
    assert client.get("/fhir/Patient/cond-2", headers=mint.department()).status_code == 404
    del second["entry"][2]
    assert client.post("/fhir", json=second, headers=mint.department()).status_code == 200
    found = client.get("/fhir/Encounter?patient=cond-1", headers=mint.department()).get_json()
    assert found["entry"][0]["resource"]["serviceProvider"] == {"reference": "Organization/org-a"}
    refs = [e["resource"]["serviceProvider"]["reference"] for e in
            client.get("/fhir/Encounter?patient=cond-2", headers=mint.department()).get_json()["entry"]]
    assert refs == ["Organization/org-a"]


def test_an_organization_posted_again_with_other_content_is_reused_not_refused(records, mint):
    client, engine = records
    one = {"resourceType": "Bundle", "type": "transaction", "entry": [_org("org-b", "B1")]}
    again = json.loads(json.dumps(one))
    again["entry"][0]["resource"]["name"] = "Clinic (renamed in another export)"
    assert client.post("/fhir", json=one, headers=mint.department()).status_code == 200
    resp = client.post("/fhir", json=again, headers=mint.department())
    assert resp.status_code == 200 and resp.get_json()["entry"][0]["response"]["status"] == "200 OK"
    assert _stored_types(engine)["Organization"] == 1


def _observations(patient, dates, code="8867-4", category="vital-signs"):
    bundle = small_bundle(patient, observations=0)
    for d in dates:
        bundle["entry"].append({"request": {"method": "POST", "url": "Observation"}, "resource": {
            "resourceType": "Observation", "id": str(uuid.uuid4()), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "Heart rate"},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": d,
            "valueQuantity": {"value": 60, "unit": "/min"}}})
    return bundle


def test_search_pages_with_a_total_and_an_opaque_next_link_until_every_match_is_seen(records, mint):
    client, _ = records
    dates = [f"2020-01-{d:02d}T10:00:00Z" for d in range(1, 26)]
    client.post("/fhir", json=_observations("s-1", dates), headers=mint.department())
    client.post("/fhir", json=_observations("s-2", dates[:3]), headers=mint.department())
    url, seen = "/fhir/Observation?patient=s-1&_count=10", []
    while url:
        page = client.get(url, headers=mint.department())
        assert page.status_code == 200 and page.content_type == "application/fhir+json"
        body = page.get_json()
        assert SearchsetBundleSchema().validate(body) == {} and body["total"] == 25
        # Absolute, as FHIR R4 wants them (Bundle.entry.fullUrl) and clients such as fhirclient
        # follow them: the gateway's public base, which records knows as the issuer.
        base = records[0].application.extensions["records"].settings.issuer + "/fhir/"
        assert all(link["url"].startswith(base + "Observation?") for link in body["link"])
        assert {e["fullUrl"] for e in body["entry"]} == {base + f"Observation/{e['resource']['id']}"
                                                         for e in body["entry"]}
        seen += [e["resource"]["id"] for e in body["entry"]]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == 25
    default = client.get("/fhir/Observation?patient=s-1", headers=mint.department()).get_json()
    assert len(default["entry"]) == 20
    assert len(client.get("/fhir/Observation?_count=500", headers=mint.department()).get_json()["entry"]) == 28


@pytest.mark.parametrize("query,expected", [
    ("date=2020-01-05", 1), ("date=eq2020-01-05", 1), ("date=ge2020-01-20", 6), ("date=gt2020-01-20", 5),
    ("date=le2020-01-03", 3), ("date=lt2020-01-03", 2), ("date=2020-01", 25), ("date=ge2020-01-10&date=lt2020-01-12", 2),
    ("code=http://loinc.org|8867-4", 25), ("code=8867-4", 25), ("code=http://snomed.info/sct|8867-4", 0),
    ("category=vital-signs", 25), ("category=laboratory", 0),
])
def test_search_filters_by_date_prefix_code_and_category(records, mint, query, expected):
    client, _ = records
    client.post("/fhir", json=_observations("f-1", [f"2020-01-{d:02d}T10:00:00Z" for d in range(1, 26)]),
                headers=mint.department())
    body = client.get(f"/fhir/Observation?patient=f-1&{query}", headers=mint.department()).get_json()
    assert body["total"] == expected, body


def test_search_since_and_department_boundaries(records, mint):
    client, _ = records
    client.post("/fhir", json=_observations("b-1", ["2021-05-01"]), headers=mint.department())
    assert client.get("/fhir/Observation?patient=b-1", headers=mint.department("cardiology")).get_json()["total"] == 0
    assert client.get("/fhir/Observation?_since=2000-01-01", headers=mint.department()).get_json()["total"] == 1
    assert client.get("/fhir/Observation?_since=2999-01-01", headers=mint.department()).get_json()["total"] == 0


@pytest.mark.parametrize("query", ["colour=red", "date=yesterday", "_count=0", "_count=%C2%B3", "_cursor=%%%",
                                   "code=a,b"])
def test_a_search_parameter_that_cannot_be_understood_is_a_400_outcome_naming_it(records, mint, query):
    client, _ = records
    resp = client.get(f"/fhir/Observation?{query}", headers=mint.department())
    assert resp.status_code == 400 and resp.get_json()["resourceType"] == "OperationOutcome"
    assert resp.get_json()["issue"][0]["expression"][0] == query.split("=")[0]


def test_an_update_with_a_stale_version_is_refused_and_history_lists_every_version(records, mint):
    client, _ = records
    bundle = small_bundle("u-1", observations=1)
    client.post("/fhir", json=bundle, headers=mint.department())
    patient = client.get("/fhir/Patient/u-1", headers=mint.department()).get_json()
    patient["birthDate"] = "1981-02-03"
    stale = client.put("/fhir/Patient/u-1", json=patient, headers={**mint.department(), "If-Match": 'W/"7"'})
    assert stale.status_code == 412 and stale.get_json()["status"] == 412
    ok = client.put("/fhir/Patient/u-1", json=patient, headers={**mint.department(), "If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"2"'
    assert ok.get_json()["meta"]["versionId"] == "2" and ok.get_json()["birthDate"] == "1981-02-03"
    again = client.put("/fhir/Patient/u-1", json=patient, headers={**mint.department(), "If-Match": 'W/"1"'})
    assert again.status_code == 412
    hist = client.get("/fhir/Patient/u-1/_history", headers=mint.department()).get_json()
    assert HistoryBundleSchema().validate(hist) == {}
    assert [e["resource"]["meta"]["versionId"] for e in hist["entry"]] == ["2", "1"]
    assert all(e["resource"]["meta"]["lastUpdated"] for e in hist["entry"])
    assert client.get("/fhir/Patient/u-1/_history/1", headers=mint.department()).get_json()["birthDate"] == "1980-02-03"
    assert client.get("/fhir/Patient/u-1/_history", headers=mint.department("cardiology")).status_code == 404
    other = client.put("/fhir/Patient/u-1", json=patient, headers={**mint.department("cardiology"), "If-Match": 'W/"2"'})
    assert other.status_code in (403, 404)


def test_an_invalid_update_is_a_422_outcome_and_keeps_the_old_version(records, mint):
    client, _ = records
    client.post("/fhir", json=small_bundle("u-2"), headers=mint.department())
    resp = client.put("/fhir/Patient/u-2", json={"resourceType": "Patient", "id": "u-2", "birthDate": "soon"},
                      headers={**mint.department(), "If-Match": 'W/"1"'})
    assert resp.status_code == 422 and resp.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient/u-2", headers=mint.department()).get_json()["meta"]["versionId"] == "1"


def _fetch(engine, app_records, request_id, patient, redact=(), types=()):
    event = {"id": str(uuid.uuid4()), "type": "phr.records.fetch", "data": {
        "request_id": request_id, "patient": patient, "resource_types": list(types),
        "redact_labels": list(redact), "requester": "cardiology"}}
    with transaction(engine) as conn:
        fetch_handlers(app_records)["phr.records.fetch"](conn, event)


def test_a_fetch_request_prepares_one_redacted_bundle_that_only_the_requester_can_fetch(records, mint):
    (client, engine), app_records = records, records.service
    bundle = _observations("x-1", ["2020-01-01"])
    bundle["entry"].append(_observations("x-1", ["2020-01-02"], code="75622-1")["entry"][1])
    client.post("/fhir", json=bundle, headers=mint.department())
    _fetch(engine, app_records, "req-1", "x-1", redact=["HIV"], types=["Patient", "Observation"])
    _fetch(engine, app_records, "req-1", "x-1", redact=["HIV"], types=["Patient", "Observation"])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claim_checks)).scalar() == 1
        replies = [json.loads(r.payload) for r in conn.execute(sa.select(outbox).where(outbox.c.topic == "phr.records.fetch.v1"))]
    assert len(replies) == 2 and replies[0]["data"] == replies[1]["data"]
    assert problems(replies[0]) == []
    data = replies[0]["data"]
    assert (data["resource_count"], data["redacted_count"]) == (2, 1)
    got = client.get(f"/internal/v1/bundles/{data['bundle_ref']}", headers=mint.department("cardiology"))
    assert got.status_code == 200 and got.get_json()["type"] == "collection"
    assert sorted(e["resource"]["resourceType"] for e in got.get_json()["entry"]) == ["Observation", "Patient"]
    assert "75622-1" not in got.get_data(as_text=True)
    assert client.get(f"/internal/v1/bundles/{data['bundle_ref']}", headers=mint.department()).status_code == 404
