"""The patient's list of records is paged by the database (SQLite and PostgreSQL): the same
items, order and cursors as mapping and sorting the whole compartment, as the service did before."""
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from services.common import i18n
from services.common.db import migrate
from services.records import MIGRATIONS_DIR
from services.records.adapters.repository import StoredResource
from services.records.domain import plain_language as pl
from services.records.service_layer import patient as uc
from tests.support.databases import PG_ADMIN_URL, drop_postgres_database, postgres_available

PAT = "pat-paging"
NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)
OBS_CATEGORY = pl.OBSERVATION_CATEGORY


def _obs(rid: str, category: str | None, when: str | None = None, **more) -> dict:
    doc = {"resourceType": "Observation", "id": rid, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
           "subject": {"reference": f"Patient/{PAT}"}, **more}
    if category:
        doc["category"] = [{"coding": [{"system": OBS_CATEGORY, "code": category}]}]
    if when:
        doc["effectiveDateTime"] = when
    return doc


def _other(rtype: str, rid: str, **more) -> dict:
    return {"resourceType": rtype, "id": rid, "subject": {"reference": f"Patient/{PAT}"}, **more}


def _mixed_compartment() -> list[dict]:
    """Dated and undated items of several types and categories, ties on the date (within one
    type and across types), dates as years, months, days and instants, a date that cannot be
    read, ids whose order differs between byte order and a language's, and rows not listed."""
    tie = "2021-06-01T08:00:00+00:00"
    return [
        _obs("b", "vital-signs", tie), _obs("B", "vital-signs", tie), _obs("a-1", "laboratory", tie),
        _obs("a.1", "laboratory", tie), _obs("Z", "survey", tie),
        _obs("lab-day", "laboratory", "2021-06-01"), _obs("lab-month", "laboratory", "2021-06"),
        _obs("lab-year", "laboratory", "2021"), _obs("odd-date", "laboratory", "2021-13-45"),
        _obs("undated-vital", "vital-signs"), _obs("undated-survey", None),
        _obs("home", "vital-signs", "2023-01-02T10:00:00.123456+01:00",
             meta={"tag": [dict(pl.PATIENT_REPORTED)]}, valueString="I feel dizzy"),
        _other("Condition", "b", onsetDateTime=tie, code={"text": "Asthma"}),
        _other("Condition", "undated", code={"text": "Hay fever"}),
        _other("Immunization", "shot", occurrenceDateTime="2019-10-10", vaccineCode={"text": "Flu"},
               status="completed", patient={"reference": f"Patient/{PAT}"}),
        _other("Encounter", "visit", period={"start": tie}, status="finished"),
        _other("Procedure", "op", performedPeriod={"start": "2020-02-02T02:02:02Z"}, status="completed"),
        _other("MedicationRequest", "med", authoredOn="2022-02-02", status="active",
               medicationCodeableConcept={"text": "Aspirin"}),
        _other("DiagnosticReport", "rep", issued="2022-02-02T00:00:00Z", status="final", code={"text": "Panel"}),
        _other("CarePlan", "plan", status="active"),
        _other("Task", "task", authoredOn="2024-01-01", status="requested", intent="order"),  # not listed
        _other("Provenance", "prov", recorded="2024-01-01T00:00:00Z"),  # not a visible type
    ]


def _store(records, docs: list[dict]) -> None:
    uow = records.service.uow()
    with uow:
        uow.resources.add_all([StoredResource(d["resourceType"], d["id"], 1, NOW, PAT, "primary-care", content=d)
                               for d in docs])


def _whole_compartment_sort(docs: list[dict], vocab, lang: str = "en") -> list[tuple[list, dict]]:
    """The service's former page: map every resource of the compartment, sort the keys descending."""
    t, names = uc.translator(lang), (lambda department: None)
    mapped = []
    for doc in docs:
        if doc["resourceType"] not in pl.VISIBLE_TYPES or pl.kind_of(doc) is None:
            continue
        item = pl.to_item(doc, "primary-care", lang, vocab, t, names)
        date = (item["date"] or {}).get("iso") or ""
        mapped.append(([date[:19], doc["resourceType"], doc["id"]], item))
    mapped.sort(key=lambda m: m[0], reverse=True)
    return mapped


def _walk(records, vocab, limit: int, category: str | None = None) -> list[tuple[list[dict], str | None]]:
    """Every page of the list, following each page's cursor: [(items, next)]."""
    lang = i18n.negotiate("en", None)
    pages, cursor = [], None
    while True:
        query = uc.ListRecords(PAT, lang, category, cursor, limit)
        _, body = uc.list_records(records.service.uow(write=False), query, vocab, records.service.directory)
        pages.append((body["items"], body["next"]))
        cursor = body["next"]
        if cursor is None:
            return pages


def test_pages_show_the_same_items_in_the_same_order_with_the_same_cursors_as_the_whole_compartment_sort(records):
    docs = _mixed_compartment()
    _store(records, docs)
    vocab = pl.load_vocabulary()
    expected = _whole_compartment_sort(docs, vocab)
    assert len(expected) == 20  # the Task and the Provenance are not listed
    for limit in (1, 3, 7, 20, 50):
        pages = _walk(records, vocab, limit)
        chunks = [expected[i:i + limit] for i in range(0, len(expected), limit)]
        assert [items for items, _ in pages] == [[item for _, item in chunk] for chunk in chunks]
        assert [cursor for _, cursor in pages] == [uc.encode_cursor(chunk[-1][0]) for chunk in chunks[:-1]] + [None]


def test_a_category_and_cursor_walk_returns_every_listed_item_exactly_once(records):
    docs = _mixed_compartment()
    _store(records, docs)
    vocab = pl.load_vocabulary()
    expected = _whole_compartment_sort(docs, vocab)
    seen = []
    for category in sorted({item["category"] for _, item in expected}):
        walked = [item for items, _ in _walk(records, vocab, 2, category) for item in items]
        assert walked == [item for _, item in expected if item["category"] == category]
        seen.extend(item["reference"] for item in walked)
    assert sorted(seen) == sorted(item["reference"] for _, item in expected)
    assert len(seen) == len(set(seen))


def test_a_replaced_resource_moves_to_its_new_place_in_the_list(records):
    docs = _mixed_compartment()
    _store(records, docs)
    moved = {**_obs("undated-vital", "laboratory", "2030-01-01"), "meta": {"versionId": "2"}}
    uow = records.service.uow()
    with uow:
        uow.resources.replace(StoredResource("Observation", "undated-vital", 2, NOW, PAT, "primary-care",
                                             content=moved))
    vocab = pl.load_vocabulary()
    first = _walk(records, vocab, 50)[0][0]
    assert first == [item for _, item in _whole_compartment_sort(
        [moved if d["id"] == "undated-vital" and d["resourceType"] == "Observation" else d for d in docs], vocab)]
    assert first[0]["reference"] == "Observation/undated-vital" and first[0]["category"] == "laboratory"


@pytest.mark.postgres
def test_pages_keep_code_point_order_on_a_postgresql_database_that_sorts_text_for_english_readers(service_apps):
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    name = f"phr_test_en_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # en-US puts "b" before "B" and "a" before "Z"; code points do not
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE \'en-US\''))
    except sa.exc.DBAPIError as error:
        pytest.skip(f"this PostgreSQL cannot make an ICU database: {error}")
    finally:
        admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url, MIGRATIONS_DIR)  # first: an empty database would be swapped for a kept one (C collation)
        records = service_apps.records(url)
        with records.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 'B' < 'b'")).scalar() is False
        docs = _mixed_compartment()
        _store(records, docs)
        vocab = pl.load_vocabulary()
        expected = _whole_compartment_sort(docs, vocab)
        pages = _walk(records, vocab, 3)
        assert [item for items, _ in pages for item in items] == [item for _, item in expected]
        records.engine.dispose()
    finally:
        drop_postgres_database(url)


def _etag(records, patient: str = PAT) -> str:
    query = uc.ListRecords(patient, i18n.negotiate("en", None))
    return uc.list_records(records.service.uow(write=False), query, pl.load_vocabulary(),
                           records.service.directory)[0]


def test_the_lists_etag_changes_with_every_write_of_a_listed_resource_and_with_no_other(records):
    _store(records, _mixed_compartment())
    uow = records.service.uow()
    first = _etag(records)
    assert _etag(records) == first
    with uow:  # a correction request: a Task, not an item of the list
        uow.resources.add(StoredResource("Task", "task-2", 1, NOW, PAT, "primary-care",
                                         content=_other("Task", "task-2", status="requested", intent="order")))
    assert _etag(records) == first
    seen = {first}
    with uow:
        uow.resources.replace(StoredResource("Observation", "b", 2, NOW, PAT, "primary-care",
                                             content=_obs("b", "vital-signs", "2022-01-01")))
    seen.add(_etag(records))
    with uow:
        uow.resources.delete(uow.resources.get("Observation", "B"), NOW)
    seen.add(_etag(records))
    other = _etag(records, "pat-other")
    with uow:  # a new version names another patient: both lists change
        uow.resources.replace(StoredResource("Condition", "b", 2, NOW, "pat-other", "primary-care",
                                             content=_other("Condition", "b", code={"text": "Asthma"})))
    seen.add(_etag(records))
    assert len(seen) == 4 and _etag(records, "pat-other") != other
    items = [item["reference"] for items, _ in _walk(records, pl.load_vocabulary(), 50) for item in items]
    assert "Observation/B" not in items and "Condition/b" not in items and "Observation/b" in items


def test_a_departments_create_update_and_delete_each_show_on_the_patients_next_page_and_not_as_304(records, mint):
    from tests.support.fhir import small_bundle

    client = records.client
    assert client.post("/fhir", json=small_bundle("pg-1", observations=1), headers=mint.department()).status_code == 200
    patient = mint.patient("pg-1", scope="openid fhirUser patient/*.rs", fhirUser="Patient/pg-1")

    def page(etag=None):
        resp = client.get("/patient/v1/records", headers={**patient, **({"If-None-Match": etag} if etag else {})})
        return resp.status_code, resp.headers["ETag"], [i["title"] for i in (resp.get_json() or {"items": []})["items"]]

    status, etag, titles = page()
    assert status == 200 and page(etag)[0] == 304
    made = client.post("/fhir/Observation", json={
        "resourceType": "Observation", "status": "final", "code": {"text": "Pulse rate"},
        "subject": {"reference": "Patient/pg-1"}, "effectiveDateTime": "2031-01-01T00:00:00Z",
        "valueQuantity": {"value": 71, "unit": "/min"}}, headers=mint.department()).get_json()
    status, etag, titles = page(etag)
    assert status == 200 and titles[0] == "Pulse rate"
    changed = {**made, "code": {"text": "Heart rate"}}
    assert client.put(f"/fhir/Observation/{made['id']}", json=changed, headers=mint.department()).status_code == 200
    status, etag, titles = page(etag)
    assert status == 200 and titles[0] == "Heart rate"
    assert client.delete(f"/fhir/Observation/{made['id']}", headers=mint.department()).status_code == 204
    status, etag, titles = page(etag)
    assert status == 200 and "Heart rate" not in titles and page(etag)[0] == 304


def test_a_write_whose_change_count_fails_rolls_back_and_gives_its_connection_back(records, monkeypatch):
    from services.records.adapters.repository import SqlResourceRepository

    def fails(self):
        raise sa.exc.OperationalError("UPDATE compartment_stamps", {}, Exception("deadlock detected"))

    monkeypatch.setattr(SqlResourceRepository, "count_changes", fails)
    engine = records.service.engine
    uow = records.service.uow()
    with pytest.raises(sa.exc.OperationalError):
        with uow:
            uow.resources.add_all([StoredResource("Observation", "lost", 1, NOW, PAT, "primary-care",
                                                  content=_obs("lost", "vital-signs", "2024-01-01"))])
    assert engine.pool.checkedout() == 0
    monkeypatch.undo()
    with records.service.uow() as again:  # the write lock is free, and nothing was kept
        assert again.resources.get("Observation", "lost") is None
