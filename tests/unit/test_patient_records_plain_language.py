"""FHIR resources become plain-language items (services/records/domain/plain_language.py)."""
import csv
import json
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.task import Task
from marshmallow import ValidationError

from contracts.accessibility import check
from contracts.schemas.patient_records import AmendmentRequestSchema, EntryRequestSchema
from services.common.directory import Department, Directory
from services.records.domain import plain_language as pl
from services.records.service_layer import patient as uc
from tests.support.directory import DEMO_DEPARTMENTS, entry
from tests.support.fhir import DEMO

RECORDS = Path(pl.__file__).resolve().parents[1]
SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-r4"  # the 25 synthetic patients the tests use
VOCAB = pl.load_vocabulary()
PHYSIOTHERAPY = {"en": "Physiotherapy", "es": "Fisioterapia"}


def _directory(*entries: dict) -> Directory:
    """A directory holding the demo's departments, then ENTRIES (event data, tests/support/directory.py)."""
    return Directory.of(Department.from_event_data(e)
                        for e in [*(entry(d["department"]) for d in DEMO_DEPARTMENTS), *entries])


DIRECTORY = _directory()


def _resources(paths):
    for path in paths:
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in pl.VISIBLE_TYPES and pl.kind_of(resource):
                yield resource


DEMO_RESOURCES = list(_resources(sorted(DEMO.glob("*_*.json"))))


def _item(resource, lang="en"):
    return pl.to_item(resource, "primary-care", lang, VOCAB, uc.translator(lang),
                      uc.department_names(DIRECTORY, lang))


def test_every_code_and_unit_of_the_demo_patients_has_a_plain_name_in_english_and_spanish():
    for resource in DEMO_RESOURCES:
        for lang in ("en", "es"):
            item = _item(resource, lang)
            assert "untranslated" not in item, (resource["resourceType"], item["code"], item["value"])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_demo_item_passes_the_accessibility_rules(lang):
    found = [(item["summary"], str(v)) for item in (_item(r, lang) for r in DEMO_RESOURCES)
             for v in check({"items": [item]}, locale=lang)]
    assert found == []


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_item_of_the_25_synthea_patients_passes_the_accessibility_rules(lang):
    found = [(item["summary"], str(v)) for item in
             (_item(r, lang) for r in _resources(sorted(SYNTHEA.glob("*_*-*.json"))))
             for v in check({"items": [item]}, locale=lang)]
    assert found == []


def _all_resources_of(paths):
    for path in paths:
        for entry in json.loads(path.read_text())["entry"]:
            yield entry["resource"]


@pytest.mark.parametrize("when", [None, "2021", "2021-06", "2021-06-01", "2021-06-01T08:00:00+00:00",
                                  "2021-06-01T08:00:00.123456+02:00", "2021-13-45", "2021-1", "not a date"])
def test_a_resources_place_in_the_list_is_the_date_and_category_its_item_shows(when):
    for resource in [_blood_pressure(), *(_all_resources_of(sorted(SYNTHEA.glob("*_*-*.json"))[:3]))]:
        resource = {**resource, "effectiveDateTime": when} if when and resource["resourceType"] == "Observation" \
            else resource
        place = pl.page_place(resource)
        if resource["resourceType"] not in pl.VISIBLE_TYPES or pl.kind_of(resource) is None:
            assert place.category is None
            continue
        item = _item(resource)
        assert place.category == item["category"] is not None
        assert place.date == ((item["date"] or {}).get("iso") or "")[:19]


def _blood_pressure(systolic=120, diastolic=80):
    component = lambda code, value: {"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                                     "valueQuantity": {"value": value, "unit": "mm[Hg]", "code": "mm[Hg]"}}
    return {"resourceType": "Observation", "id": "bp", "status": "final",
            "category": [{"coding": [{"system": pl.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "55284-4", "display": "Blood Pressure"}]},
            "effectiveDateTime": "2024-03-03T10:00:00+00:00",
            "component": [component("8480-6", systolic), component("8462-4", diastolic)]}


def test_a_blood_pressure_reads_as_top_over_bottom_with_the_unit_spelled_out():
    en, es = _item(_blood_pressure(), "en"), _item(_blood_pressure(), "es")
    assert en["summary"] == "Your blood pressure was 120 over 80 millimeters of mercury."
    assert en["value"] == {"value": 120, "unit": "mm[Hg]", "display": "120 over 80 millimeters of mercury"}
    assert en["date"] == {"iso": "2024-03-03T10:00:00+00:00", "display": "March 3, 2024"}
    assert es["value"]["display"] == "120 sobre 80 milímetros de mercurio"
    assert es["date"]["display"] == "3 de marzo de 2024"
    assert [c["title"] for c in es["components"]] == ["Número de arriba (sistólica)", "Número de abajo (diastólica)"]


def test_numbers_follow_the_language_and_one_takes_the_singular():
    q = {"value": 1, "unit": "kg", "code": "kg"}
    assert pl.quantity(q, "en", VOCAB)[0]["display"] == "1 kilogram"
    assert pl.quantity({**q, "value": 72.456}, "es", VOCAB)[0]["display"] == "72,5 kilogramos"
    assert pl.quantity({"value": 4.56, "unit": "10*6/uL"}, "en", VOCAB)[0]["display"] == "4.56 million per microliter"


def test_a_code_without_a_plain_name_keeps_its_display_and_says_it_is_untranslated():
    resource = {"resourceType": "Condition", "id": "c", "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1234",
                                     "display": "Chronic pain syndrome (finding)"}]}}
    item = _item(resource, "es")
    assert item["untranslated"] is True and item["title"] == "Chronic pain syndrome"
    assert item["summary"] == "Su equipo de salud anotó un problema de salud."
    assert item["status"] == {"code": "active", "status_text": "Activo"}
    assert check({"items": [item]}, locale="es") == []


def test_an_unknown_unit_keeps_the_unit_but_shows_no_symbol_as_words():
    resource = {**_blood_pressure(), "component": [],
                "valueQuantity": {"value": 3, "unit": "ug/g", "code": "ug/g"}}
    item = _item(resource)
    assert item["value"] == {"value": 3, "unit": "ug/g"} and item["untranslated"] is True
    assert check({"items": [item]}) == []


def test_patient_reported_observations_are_their_own_kind():
    resource = {**_blood_pressure(), "meta": {"tag": [pl.PATIENT_REPORTED]}}
    item = _item(resource)
    assert item["kind"] == "patient-reported" and item["category"] == "patient-reported"
    assert item["summary"] == "You entered your blood pressure: 120 over 80 millimeters of mercury."


@pytest.mark.parametrize("path", [*sorted((RECORDS / "data" / "plain-language").glob("*.csv")),
                                  RECORDS / "data" / "units" / "ucum.csv"])
def test_every_row_of_the_data_files_has_english_and_spanish(path):
    with path.open(encoding="utf-8", newline="") as fileobj:
        rows = list(csv.DictReader(fileobj))
    assert rows and all(all(v and v.strip() for v in row.values()) for row in rows)
    sources = json.loads((path.parent / "sources.json").read_text())
    assert sources["file"] == path.name and sources["sources"] and sources["wording"]


def test_every_message_of_the_service_is_in_its_catalogs():
    marked = {m[2] for m in extract_from_dir(str(RECORDS), [("**.py", "python")],
                                             keywords={"N_": None, "_": None})}
    for locale in ("en", "es"):
        with (RECORDS / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fileobj:
            entries = {m.id: m.string for m in read_po(fileobj) if m.id}
        assert sorted(marked - {k for k, v in entries.items() if v}) == [], locale


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    key = ["2024-03-03T10:00:00", "Observation", "x"]
    assert uc.decode_cursor(uc.encode_cursor(key)) == key
    for bad in ("%%%", "bm9wZQ", uc.encode_cursor(["a", 1, "b"])):
        with pytest.raises(uc.BadCursor):
            uc.decode_cursor(bad)


@pytest.mark.parametrize("entry", [{"kind": "blood-pressure", "systolic": 130, "diastolic": 85},
                                   {"kind": "weight", "value": 80.2, "unit": "kg"},
                                   {"kind": "glucose", "value": 6.1, "unit": "mmol/L", "note": "fasting"},
                                   {"kind": "symptom", "note": "Dizzy after lunch"}])
def test_every_kind_of_entry_is_a_valid_r4_observation_tagged_patient_reported(entry):
    from datetime import datetime, timezone

    data = EntryRequestSchema().load(entry)
    obs = uc.entry_observation(uc.AddEntry("p1", data), "o1", datetime.now(timezone.utc))
    Observation.model_validate(obs)
    assert obs["performer"] == [{"reference": "Patient/p1"}] and pl.is_patient_reported(obs)
    assert pl.kind_of(obs) == "patient-reported"


def test_the_entry_schema_names_each_missing_field_of_the_kind():
    with pytest.raises(ValidationError) as err:
        EntryRequestSchema().load({"kind": "glucose"})
    assert set(err.value.messages) == {"value", "unit"}
    with pytest.raises(ValidationError) as err:
        AmendmentRequestSchema().load({"record_id": "../x"})
    assert set(err.value.messages) == {"record_id", "what_is_wrong", "correction"}


def test_preferred_language_takes_the_preferred_communication_first():
    patient = {"communication": [{"language": {"coding": [{"code": "pt"}]}},
                                 {"language": {"coding": [{"code": "es"}]}, "preferred": True}]}
    assert uc.preferred_language(patient) == "es"
    assert uc.preferred_language({}) is None


def test_the_amendment_task_is_valid_r4():
    task_like = {"resourceType": "Task", "id": "t", "status": "requested", "intent": "order",
                 "code": {"coding": [uc.TASK_CODE]}, "focus": {"reference": "Observation/o"},
                 "for": {"reference": "Patient/p"},
                 "owner": {"identifier": {"system": uc.DEPARTMENT_SYSTEM, "value": "primary-care"}},
                 "input": [{"type": uc.INPUT_WHAT, "valueString": "x"}]}
    Task.model_validate(task_like)
    item = uc.amendment_item(task_like, None, "es", VOCAB, DIRECTORY)
    assert item["status"]["status_text"] == "Enviado. Esperando revisión."
    assert item["source"] == {"department": "primary-care", "display": "Atención primaria"}


# -- departments' names: data from the directory, not code ------------------------------------

@pytest.mark.parametrize(("lang", "name"), [("en", "Physiotherapy"), ("es", "Fisioterapia")])
def test_a_department_registered_at_runtime_is_the_source_in_its_name_for_the_language(lang, name):
    directory = _directory(entry("physiotherapy", names=PHYSIOTHERAPY))
    item = pl.to_item(_blood_pressure(), "physiotherapy", lang, VOCAB, uc.translator(lang),
                      uc.department_names(directory, lang))
    assert item["source"] == {"department": "physiotherapy", "display": name}
    assert check({"items": [item]}, locale=lang) == []


@pytest.mark.parametrize(("lang", "name"), [("en", "Primary care"), ("es", "Atención primaria")])
def test_the_demo_custodian_is_named_as_the_directory_names_it(lang, name):
    assert _item(_blood_pressure(), lang)["source"] == {"department": "primary-care", "display": name}


def test_a_language_the_directory_has_no_name_for_reads_the_english_name():
    directory = _directory(entry("physiotherapy", names={"en": "Physiotherapy"}))
    assert pl.source("physiotherapy", uc.department_names(directory, "es"))["display"] == "Physiotherapy"


def test_a_renamed_department_is_shown_by_its_newest_name():
    renamed = {"en": "Heart care", "es": "Cuidado del corazón"}
    directory = _directory(entry("cardiology", names=renamed, version=2))
    assert pl.source("cardiology", uc.department_names(directory, "es"))["display"] == "Cuidado del corazón"


def test_a_disabled_department_still_names_the_records_it_kept():
    directory = _directory(entry("physiotherapy", names=PHYSIOTHERAPY, status="disabled", version=2))
    assert directory.active("physiotherapy") is None
    assert pl.source("physiotherapy", uc.department_names(directory, "es"))["display"] == "Fisioterapia"


def test_a_custodian_the_directory_does_not_hold_still_shows_as_its_id_in_words():
    for lang in ("en", "es"):
        source = pl.source("sleep-clinic", uc.department_names(DIRECTORY, lang))
        assert source == {"department": "sleep-clinic", "display": "Sleep clinic"}
    assert pl.source("sleep-clinic", uc.department_names(Directory.of([]), "en"))["display"] == "Sleep clinic"


def test_a_correction_request_names_the_custodian_from_the_directory():
    directory = _directory(entry("physiotherapy", names=PHYSIOTHERAPY))
    task = {"resourceType": "Task", "id": "t", "status": "requested", "focus": {"reference": "Observation/o"},
            "owner": {"identifier": {"system": uc.DEPARTMENT_SYSTEM, "value": "physiotherapy"}},
            "authoredOn": "2025-01-10T12:00:00+00:00"}
    item = uc.amendment_item(task, None, "es", VOCAB, directory)
    assert item["source"] == {"department": "physiotherapy", "display": "Fisioterapia"}
    assert "Fisioterapia" in item["summary"]


def test_the_directory_stamp_changes_when_an_entry_changes():
    before = uc.directory_stamp(_directory(entry("physiotherapy", names=PHYSIOTHERAPY)))
    renamed = uc.directory_stamp(_directory(entry("physiotherapy", names={"en": "Physio"}, version=2)))
    assert before != renamed
    assert before == uc.directory_stamp(_directory(entry("physiotherapy", names=PHYSIOTHERAPY)))
