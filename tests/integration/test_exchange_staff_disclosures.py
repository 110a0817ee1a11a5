"""The accounting of disclosures for a department's privacy officers (GET /staff/v1/disclosures),
on SQLite and PostgreSQL: every release of the records of the department's own patients, read from
the hash-chained ledger, newest first, with who received them, why, on what basis and who asked;
another department's patients never show, and only the privacy officer's scope reads it."""
import json

import pytest

from contracts.schemas.exchange import StaffDisclosurePageSchema
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import FakeConsent, Letters, Pump
from services.exchange.adapters.tables import processed_events
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer.handlers import HANDLERS
from tests.conftest import not_a_privacy_officer

OURS, THEIRS = "p-1", "p-2"  # primary care's patient, cardiology's


@pytest.fixture
def released(exchange, mint):
    """Releases of three requests: two of primary care's patient (one by a clinician in person),
    one of cardiology's; return the client."""
    service, client = exchange.service, exchange.client
    index = IdempotentConsumer("exchange.records-index", exchange.engine, processed_events, HANDLERS, Letters())
    for patient, custodian in ((OURS, "primary-care"), (THEIRS, "cardiology")):
        imported = new_event("phr.records.imported", "/services/records", patient, {
            "patient": patient, "custodian": custodian, "resource_count": 3,
            "resource_types": {"Observation": 3}, "imported_at": "2026-03-01T08:00:00+00:00"})
        assert index.handle("phr.records.v1", json.dumps(imported).encode()) == "applied"
    service.flow.consent = FakeConsent(permits={(OURS, "cardiology"): [], (THEIRS, "primary-care"): [],
                                                (OURS, "research"): []})
    asks = ((OURS, mint.department("cardiology")),
            (THEIRS, mint.department("primary-care")),
            (OURS, mint.staff("research", ("clinician",), "dr-lin")))
    for patient, headers in asks:
        path = "/staff/v1/requests" if headers is asks[2][1] else "/exchange/v1/requests"
        body = {"patient": patient, "purpose": "TREAT", "resource_types": ["Observation"], "reason": "Care"}
        assert client.post(path, json=body, headers=headers).status_code == 202
        Pump(service, service.records, flow_handlers(service)).run()
    return client


def _officer(mint, dept="primary-care"):
    return mint.staff(dept=dept, roles=("privacy-officer",), staff_id="po-1")


def test_a_privacy_officer_reads_every_release_of_their_patients_records_newest_first(released, mint):
    resp = released.get("/staff/v1/disclosures", headers={**_officer(mint), "Accept-Language": "es"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert StaffDisclosurePageSchema().validate(body) == {}
    assert [(i["patient"], i["recipient"]["department"]) for i in body["items"]] == [
        (OURS, "research"), (OURS, "cardiology")]
    newest, first = body["items"]
    assert newest["requested_by"] == {"sub": "dr-lin", "fhirUser": "Practitioner/dr-lin"}
    assert first["requested_by"] is None and first["basis"] == "consent" and first["break_glass_id"] is None
    assert first["records"][0]["display"] == "Análisis de laboratorio" and first["ledger"]["hash"]
    assert int(newest["id"]) > int(first["id"])


def test_another_departments_patients_and_filters_show_nothing_of_theirs(released, mint):
    theirs = released.get("/staff/v1/disclosures", headers=_officer(mint, "cardiology")).get_json()["items"]
    assert [i["patient"] for i in theirs] == [THEIRS]
    asked = released.get(f"/staff/v1/disclosures?patient={THEIRS}", headers=_officer(mint)).get_json()
    assert asked == {"items": [], "next": None}
    assert [i["patient"] for i in released.get(f"/staff/v1/disclosures?patient={OURS}",
                                               headers=_officer(mint)).get_json()["items"]] == [OURS, OURS]


def test_the_list_pages_with_the_one_cursor_and_refuses_a_bad_one(released, mint):
    first = released.get("/staff/v1/disclosures?limit=1", headers=_officer(mint)).get_json()
    second = released.get(f"/staff/v1/disclosures?limit=1&cursor={first['next']}", headers=_officer(mint)).get_json()
    assert len(first["items"]) == len(second["items"]) == 1 and second["next"] is None
    assert first["items"][0]["id"] != second["items"][0]["id"]
    for query, field in (("cursor=nonsense", "cursor"), ("limit=0", "limit"), ("patient=" + "x" * 65, "patient")):
        resp = released.get(f"/staff/v1/disclosures?{query}", headers=_officer(mint))
        assert resp.status_code == 422 and resp.get_json()["fields"] == [field], query


def test_only_the_privacy_officers_scope_reads_the_accounting(released, mint):
    for who, headers in not_a_privacy_officer(mint, "primary-care", OURS).items():
        resp = released.get("/staff/v1/disclosures", headers=headers)
        assert resp.status_code == 403 and resp.content_type.startswith("application/problem+json"), who
    assert released.get("/staff/v1/disclosures").status_code == 401


def test_another_departments_later_import_does_not_take_the_patients_accounting(released, mint, exchange):
    index = IdempotentConsumer("exchange.records-index", exchange.engine, processed_events, HANDLERS, Letters())
    added = new_event("phr.records.imported", "/services/records", OURS, {
        "patient": OURS, "custodian": "cardiology", "resource_count": 1,
        "resource_types": {"Observation": 1}, "imported_at": "2026-03-02T08:00:00+00:00"})
    assert index.handle("phr.records.v1", json.dumps(added).encode()) == "applied"
    theirs = released.get("/staff/v1/disclosures", headers=_officer(mint, "cardiology")).get_json()["items"]
    assert [i["patient"] for i in theirs] == [THEIRS]
    ours = released.get("/staff/v1/disclosures", headers=_officer(mint)).get_json()["items"]
    assert [i["patient"] for i in ours] == [OURS, OURS]


def test_a_release_made_while_an_officer_pages_does_not_repeat_an_entry_on_the_next_page(released, mint, exchange):
    first = released.get("/staff/v1/disclosures?limit=1", headers=_officer(mint)).get_json()
    service = exchange.service
    asked = released.post("/exchange/v1/requests", headers=mint.department("cardiology"), json={
        "patient": OURS, "purpose": "TREAT", "resource_types": ["Observation"], "reason": "Again"})
    assert asked.status_code == 202
    Pump(service, service.records, flow_handlers(service)).run()
    second = released.get(f"/staff/v1/disclosures?limit=1&cursor={first['next']}", headers=_officer(mint)).get_json()
    assert int(second["items"][0]["id"]) < int(first["items"][0]["id"])
