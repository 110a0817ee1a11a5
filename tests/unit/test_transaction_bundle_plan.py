import json

import pytest

from services.records.domain.bundle import InvalidBundle, patient_of, plan_transaction
from tests.support.fhir import SYNTHEA, demo_bundle, first_entry, small_bundle, synthea_bundle


def test_urn_uuid_references_are_rewritten_to_the_stored_ids():
    bundle = small_bundle("p-1")
    plan = plan_transaction(bundle)
    observation = plan.resources[1].content
    assert observation["subject"] == {"reference": "Patient/p-1"}
    assert plan.resources[1].patient_id == "p-1"


def test_a_synthea_bundle_plans_every_entry_with_nothing_lost():
    bundle = demo_bundle("Liz_Conn")
    plan = plan_transaction(bundle)
    assert len(plan.resources) == len(bundle["entry"])
    assert not any("urn:uuid:" in str(r.content) for r in plan.resources)


def test_an_invalid_resource_names_its_entry():
    bundle = small_bundle()
    del bundle["entry"][1]["resource"]["code"]
    with pytest.raises(InvalidBundle) as info:
        plan_transaction(bundle)
    assert info.value.status == 422
    assert any(e.expression.startswith("Bundle.entry[1].resource") for e in info.value.errors)


@pytest.mark.parametrize("body,status", [
    ([], 400), ({"resourceType": "Patient"}, 400),
    ({"resourceType": "Bundle", "type": "collection", "entry": []}, 422),
    ({"resourceType": "Bundle", "type": "transaction", "entry": []}, 422),
])
def test_a_body_that_is_not_a_transaction_bundle_is_refused(body, status):
    with pytest.raises(InvalidBundle) as info:
        plan_transaction(body)
    assert info.value.status == status


def test_an_unknown_resource_type_is_refused():
    bundle = small_bundle()
    bundle["entry"][1]["resource"]["resourceType"] = "Spaceship"
    with pytest.raises(InvalidBundle, match="Spaceship"):
        plan_transaction(bundle)


def test_a_delete_inside_a_transaction_is_not_supported_yet():
    bundle = small_bundle()
    bundle["entry"][1]["request"] = {"method": "DELETE", "url": "Observation/x"}
    with pytest.raises(InvalidBundle, match="DELETE"):
        plan_transaction(bundle)


def test_the_same_resource_twice_in_one_bundle_is_refused():
    bundle = small_bundle(observations=1)
    bundle["entry"].append(bundle["entry"][1])
    with pytest.raises(InvalidBundle, match="twice"):
        plan_transaction(bundle)


def test_resources_outside_a_patient_compartment_have_no_patient():
    assert patient_of({"resourceType": "Organization", "id": "o"}) is None
    assert patient_of({"resourceType": "Claim", "patient": {"reference": "Patient/p"}}) == "p"


def _refused(bundle) -> list[tuple[str, str]]:
    with pytest.raises(InvalidBundle) as info:
        plan_transaction(bundle)
    assert info.value.status == 422
    return [(e.expression, e.code) for e in info.value.errors]


def test_a_synthea_observation_with_a_status_outside_its_required_value_set_is_refused():
    bundle = synthea_bundle()
    i = first_entry(bundle, "Observation")
    bundle["entry"][i]["resource"]["status"] = "not-a-status"
    assert _refused(bundle) == [(f"Bundle.entry[{i}].resource.status", "code-invalid")]


def test_a_synthea_patient_whose_gender_is_robot_is_refused():
    bundle = synthea_bundle()
    bundle["entry"][0]["resource"]["gender"] = "robot"
    assert _refused(bundle) == [("Bundle.entry[0].resource.gender", "code-invalid")]


def test_a_reference_to_a_urn_uuid_that_is_not_in_the_bundle_is_refused():
    bundle = synthea_bundle()
    i = first_entry(bundle, "Encounter")
    bundle["entry"][i]["resource"]["subject"]["reference"] = "urn:uuid:0c2b5e9e-0000-4000-8000-000000000000"
    assert _refused(bundle) == [(f"Bundle.entry[{i}].resource.subject.reference", "not-found")]


def test_a_subject_that_points_at_an_observation_is_the_wrong_type():
    bundle = synthea_bundle()
    i = first_entry(bundle, "Observation")
    bundle["entry"][i]["resource"]["subject"]["reference"] = bundle["entry"][i + 1]["fullUrl"]
    assert bundle["entry"][i + 1]["resource"]["resourceType"] == "Observation"
    assert _refused(bundle) == [(f"Bundle.entry[{i}].resource.subject.reference", "invalid")]


def test_a_contained_reference_must_name_a_contained_resource():
    bundle = synthea_bundle()
    i = next(i for i, e in enumerate(bundle["entry"]) if e["resource"].get("contained"))
    bundle["entry"][i]["resource"]["contained"][0]["id"] = "renamed"
    assert all(code == "not-found" and where.startswith(f"Bundle.entry[{i}].resource.")
               for where, code in _refused(bundle))


def test_type_and_id_references_outside_the_bundle_are_left_for_the_store_to_resolve():
    bundle = small_bundle("p-1", observations=1)
    bundle["entry"][1]["resource"]["performer"] = [{"reference": "Practitioner/pr-1"}]
    plan = plan_transaction(bundle)
    assert plan.stored == {("Practitioner", "pr-1"): "Bundle.entry[1].resource.performer[0].reference"}
    plan.check_stored(lambda pairs: set(pairs))
    with pytest.raises(InvalidBundle, match="Practitioner/pr-1") as info:
        plan.check_stored(lambda pairs: set())
    assert info.value.errors[0].expression == "Bundle.entry[1].resource.performer[0].reference"


def test_every_synthea_bundle_plans_with_every_reference_resolved():
    for path in sorted(SYNTHEA.glob("*.json")):
        plan = plan_transaction(json.loads(path.read_text()))
        assert plan.stored == {} and plan.unresolved == set(), path.name
