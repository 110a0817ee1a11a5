"""The records service learns departments from its copy of the directory (services/common/directory.py),
on a real database (SQLite and PostgreSQL) with real tokens: a department registered at runtime
writes and its patients read its name; a disabled one is refused at the fast path and the view
alike; the worker's consumer keeps the copy from phr.directory.v1 events, each applied once."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from werkzeug.test import Client
from werkzeug.wrappers import Response

from services.common.directory import TOPIC
from services.records.adapters.tables import departments, outbox, processed_events, resources
from services.records.entrypoints.worker import directory_consumer
from tests.support.apps import behind_fast_path
from tests.support.directory import event, seed_directory
from tests.support.fhir import demo_bundle

LIZ = "ee9f8dd8-72d2-4769-8020-89e504b1504b"
PHYSIOTHERAPY = {"en": "Physiotherapy", "es": "Fisioterapia"}
PATIENT_SCOPE = "openid fhirUser patient/*.rs patient/Observation.c patient/Task.c"
REFUSED = "This department is not active in the directory."


def _register(engine, **changes) -> None:
    """Register physiotherapy as the gateway's event would, then the worker's consumer."""
    data = {"names": PHYSIOTHERAPY, "may_write_records": True, **changes}
    seed_directory(engine, [event("physiotherapy", **data)])


def _liz(mint, lang: str) -> dict:
    return {**mint.patient(LIZ, scope=PATIENT_SCOPE, sub="acct-liz"), "Accept-Language": lang}


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def _within(seconds: float, call):
    """Call until it answers something true (the directory is reloaded within its refresh, 1 s)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@pytest.fixture
def physiotherapy_record(records, mint) -> str:
    """Physiotherapy, registered at runtime, imports Liz's record; the id of one of its Observations."""
    _register(records.engine)
    bundle = demo_bundle("Liz_Conn")
    resp = records.client.post("/fhir", json=bundle, headers=mint.department("physiotherapy"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")


# -- a department registered at runtime ---------------------------------------------------------------

@pytest.mark.parametrize(("lang", "name"), [("en", "Physiotherapy"), ("es", "Fisioterapia")])
def test_a_department_registered_at_runtime_imports_and_its_patient_reads_its_name(
        records, mint, physiotherapy_record, lang, name):
    client = records.client
    assert _count(records.engine, resources, resources.c.custodian == "physiotherapy") > 0
    page = client.get("/patient/v1/records?limit=100", headers=_liz(mint, lang))
    assert page.status_code == 200 and page.headers["Content-Language"] == lang
    sources = {(i["source"]["department"], i["source"]["display"]) for i in page.get_json()["items"]}
    assert sources == {("physiotherapy", name)}
    one = client.get(f"/patient/v1/records/Observation/{physiotherapy_record}", headers=_liz(mint, lang))
    assert one.get_json()["source"] == {"department": "physiotherapy", "display": name}
    me = client.get("/patient/v1/me", headers=_liz(mint, lang)).get_json()
    assert me["custodian"] == {"department": "physiotherapy", "display": name}
    asked = client.post("/patient/v1/amendments", headers=_liz(mint, lang), json={
        "record_id": f"Observation/{physiotherapy_record}", "what_is_wrong": "Wrong day",
        "correction": "It was Monday"})
    assert asked.status_code == 201 and asked.get_json()["source"]["display"] == name
    assert name in asked.get_json()["summary"]


def test_a_department_renamed_in_the_directory_changes_the_patients_pages_and_their_etags(
        records, mint, physiotherapy_record):
    client, headers = records.client, _liz(mint, "es")
    first = client.get("/patient/v1/records", headers=headers)
    one = client.get(f"/patient/v1/records/Observation/{physiotherapy_record}", headers=headers)
    _register(records.engine, names={"en": "Physical therapy", "es": "Terapia física"}, version=2)

    def renamed():
        again = client.get("/patient/v1/records", headers={**headers, "If-None-Match": first.headers["ETag"]})
        return again if again.status_code == 200 else None

    again = _within(3, renamed)
    assert again is not None, "the old ETag still matched after the rename"
    assert {i["source"]["display"] for i in again.get_json()["items"]} == {"Terapia física"}
    read = client.get(f"/patient/v1/records/Observation/{physiotherapy_record}",
                      headers={**headers, "If-None-Match": one.headers["ETag"]})
    assert read.status_code == 200 and read.get_json()["source"]["display"] == "Terapia física"


def test_readiness_shows_how_many_departments_the_service_knows(records):
    assert records.client.get("/readyz").get_json()["facts"] == {"departments": 5}  # the demo's
    _register(records.engine)
    assert _within(3, lambda: records.client.get("/readyz").get_json()["facts"] == {"departments": 6})


def test_a_department_the_directory_never_held_is_refused_and_changes_nothing(records, mint):
    before = _count(records.engine, resources), _count(records.engine, outbox)
    resp = records.client.post("/fhir", json=demo_bundle("Liz_Conn"), headers=mint.department("physiotherapy"))
    assert resp.status_code == 401 and resp.content_type == "application/fhir+json"
    assert resp.get_json()["detail"] == REFUSED
    assert (_count(records.engine, resources), _count(records.engine, outbox)) == before


# -- a disabled department ----------------------------------------------------------------------------

@pytest.fixture
def disabled(records, mint, physiotherapy_record) -> str:
    """Physiotherapy's record, then physiotherapy disabled (version 2); the Observation's id."""
    seed_directory(records.engine, [event("physiotherapy", names=PHYSIOTHERAPY, status="disabled", version=2)])
    path, headers = f"/fhir/Observation/{physiotherapy_record}", mint.department("physiotherapy")
    refused = _within(3, lambda: records.client.get(path, headers=headers).status_code == 401)
    assert refused, "the disabled department was still served after the directory's refresh"
    return physiotherapy_record


def test_a_disabled_departments_read_is_refused_alike_by_the_fast_path_and_the_view(records, mint, disabled):
    app = records.app
    calls, view = [], app.view_functions["fhir.read"]
    app.view_functions["fhir.read"] = lambda *a, **kw: calls.append(kw) or view(*a, **kw)
    headers = {**mint.department("physiotherapy"), "Accept-Language": "es"}
    through_fast_path = records.client.get(f"/fhir/Observation/{disabled}", headers=headers)
    flask_only = Client(behind_fast_path(app), Response).get(f"/fhir/Observation/{disabled}", headers=headers)
    assert (through_fast_path.status_code, through_fast_path.get_data()) == (flask_only.status_code,
                                                                             flask_only.get_data())
    assert dict(through_fast_path.headers) == dict(flask_only.headers)
    assert through_fast_path.status_code == 401 and calls == []  # refused by the token check itself
    assert through_fast_path.content_type == "application/fhir+json"
    assert 'error="invalid_token"' in through_fast_path.headers["WWW-Authenticate"]
    assert "Liz" not in through_fast_path.get_data(as_text=True)


@pytest.mark.parametrize("call", ["search", "history", "vread", "import", "update"])
def test_a_disabled_department_can_neither_read_nor_write_and_nothing_changes(records, mint, disabled, call):
    client, engine, oid = records.client, records.engine, disabled
    headers = mint.department("physiotherapy")
    before = _count(engine, resources), _count(engine, outbox)
    resp = {
        "search": lambda: client.get(f"/fhir/Observation?patient={LIZ}", headers=headers),
        "history": lambda: client.get(f"/fhir/Observation/{oid}/_history", headers=headers),
        "vread": lambda: client.get(f"/fhir/Observation/{oid}/_history/1", headers=headers),
        "import": lambda: client.post("/fhir", json=demo_bundle("Liz_Conn"), headers=headers),
        "update": lambda: client.put(f"/fhir/Observation/{oid}", headers={**headers, "If-Match": 'W/"1"'},
                                     json={"resourceType": "Observation", "id": oid, "status": "amended",
                                           "code": {"text": "Heart rate"},
                                           "subject": {"reference": f"Patient/{LIZ}"}}),
    }[call]()
    assert resp.status_code == 401 and resp.content_type == "application/fhir+json"
    assert resp.get_json()["detail"] == REFUSED
    assert (_count(engine, resources), _count(engine, outbox)) == before


def test_a_disabled_departments_records_stay_the_patients_and_keep_its_name(records, mint, disabled):
    items = records.client.get("/patient/v1/records?limit=100", headers=_liz(mint, "es")).get_json()["items"]
    assert items and {i["source"]["display"] for i in items} == {"Fisioterapia"}


def test_other_departments_are_served_as_before_when_one_is_disabled(records, mint, disabled):
    assert records.client.get(f"/fhir/Observation/{disabled}", headers=mint.department()).status_code == 404
    assert records.client.get("/fhir/Patient?_count=1", headers=mint.department()).status_code == 200


# -- the worker's consumer ----------------------------------------------------------------------------

class Letters:
    """The dead-letter topic, in memory."""

    def __init__(self):
        self.sent = []

    def publish(self, topic, key, value, headers, timestamp_ms=None):
        self.sent.append((topic, value))

    def flush(self):
        pass


def _entry(engine) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(departments).where(departments.c.id == "physiotherapy")).mappings().first()
    return dict(row) if row else None


def test_the_workers_consumer_keeps_each_directory_event_once_and_never_goes_back_a_version(records, mint):
    engine, letters = records.engine, Letters()
    consumer = directory_consumer(records.service, letters)
    registered = event("physiotherapy", names=PHYSIOTHERAPY, may_write_records=True)
    disabled = event("physiotherapy", names=PHYSIOTHERAPY, status="disabled", version=2)
    late = event("physiotherapy", names={"en": "Old name"}, version=1)
    assert consumer.handle(TOPIC, json.dumps(registered).encode()) == "applied"
    assert json.loads(_entry(engine)["names"]) == PHYSIOTHERAPY
    assert records.client.post("/fhir", json=demo_bundle("Liz_Conn"),
                               headers=mint.department("physiotherapy")).status_code == 200
    assert consumer.handle(TOPIC, json.dumps(disabled).encode()) == "applied"
    assert consumer.handle(TOPIC, json.dumps(disabled).encode()) == "duplicate"
    assert consumer.handle(TOPIC, json.dumps(registered).encode()) == "duplicate"
    assert consumer.handle(TOPIC, json.dumps(late).encode()) == "applied"  # a replay: kept as seen, no change
    kept = _entry(engine)
    assert (kept["status"], kept["version"], json.loads(kept["names"])) == ("disabled", 2, PHYSIOTHERAPY)
    assert _count(engine, processed_events, processed_events.c.consumer == "records.directory") == 3
    assert letters.sent == []
    headers = mint.department("physiotherapy")
    assert _within(3, lambda: records.client.get("/fhir/Patient?_count=1", headers=headers).status_code == 401)


def test_a_directory_event_this_service_cannot_read_goes_to_the_dead_letter_topic(records):
    letters = Letters()
    consumer = directory_consumer(records.service, letters)
    consumer.wait = lambda *_: 0
    bad = event("physiotherapy", kind="billing")
    assert consumer.handle(TOPIC, json.dumps(bad).encode()) == "dead-lettered"
    assert _entry(records.engine) is None and len(letters.sent) == 1
