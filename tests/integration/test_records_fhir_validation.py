"""A transaction Bundle that breaks an R4 rule (a required binding, a reference that does not resolve,
a reference of the wrong type) is refused whole: 422 OperationOutcome naming the entry and element,
nothing stored, nothing announced. Synthea bundles of tests/data/synthea-r4, each broken in one place."""
import pytest
import sqlalchemy as sa

from contracts.schemas import OperationOutcomeProblemSchema
from services.records.adapters.tables import outbox, resources
from tests.support.fhir import first_entry, small_bundle, synthea_bundle

NOWHERE = "urn:uuid:0c2b5e9e-0000-4000-8000-000000000000"


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _bad_status(bundle):
    i = first_entry(bundle, "Observation")
    bundle["entry"][i]["resource"]["status"] = "not-a-status"
    return f"Bundle.entry[{i}].resource.status"


def _robot(bundle):
    bundle["entry"][0]["resource"]["gender"] = "robot"
    return "Bundle.entry[0].resource.gender"


def _dangling(bundle):
    i = first_entry(bundle, "Encounter")
    bundle["entry"][i]["resource"]["subject"]["reference"] = NOWHERE
    return f"Bundle.entry[{i}].resource.subject.reference"


def _wrong_type(bundle):
    i = first_entry(bundle, "Observation")
    bundle["entry"][i]["resource"]["subject"]["reference"] = bundle["entry"][i + 1]["fullUrl"]  # an Observation
    return f"Bundle.entry[{i}].resource.subject.reference"


def _not_stored(bundle):
    i = first_entry(bundle, "Encounter")
    bundle["entry"][i]["resource"]["subject"]["reference"] = "Patient/nobody-here"
    return f"Bundle.entry[{i}].resource.subject.reference"


@pytest.mark.parametrize("breaks", [_bad_status, _robot, _dangling, _wrong_type, _not_stored],
                         ids=["bad-required-code", "robot-gender", "dangling-urn-uuid", "wrong-reference-type",
                              "type-and-id-not-stored"])
def test_a_synthea_bundle_broken_in_one_place_is_refused_whole_naming_the_entry(records, mint, breaks):
    client, engine = records
    bundle = synthea_bundle()
    where = breaks(bundle)
    resp = client.post("/fhir", json=bundle, headers=mint.department())
    assert resp.status_code == 422, resp.get_data(as_text=True)
    body = resp.get_json()
    assert OperationOutcomeProblemSchema().validate(body) == {}
    assert [i["expression"] for i in body["issue"]] == [[where]]
    assert _count(engine, resources) == 0 and _count(engine, outbox) == 0


def test_a_reference_to_a_resource_stored_earlier_is_accepted(records, mint):
    client, engine = records
    assert client.post("/fhir", json=small_bundle("p-ref", observations=0), headers=mint.department()).status_code == 200
    later = small_bundle("unused", observations=1)
    later["entry"] = later["entry"][1:]
    later["entry"][0]["resource"]["subject"] = {"reference": "Patient/p-ref"}
    resp = client.post("/fhir", json=later, headers=mint.department())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert _count(engine, resources) == 2
