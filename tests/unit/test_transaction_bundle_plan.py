import pytest

from services.records.domain.bundle import InvalidBundle, patient_of, plan_transaction
from tests.support.fhir import demo_bundle, small_bundle


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
