"""The FHIR R4 rules table (services/records/data/fhir-r4/rules.json) and its walk, on resources built here."""
from services.records.domain import r4_rules
from services.records.domain.bundle import check_references, validate_resource


def _observation(**extra):
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Heart rate"},
            "subject": {"reference": "Patient/p-1"}, **extra}


def test_the_table_is_fhir_4_0_1_with_the_codes_of_its_required_bindings():
    assert r4_rules.FHIR_VERSION == "4.0.1"
    assert {"Patient", "Observation", "Consent", "Task"} <= r4_rules.RESOURCE_TYPES
    assert "SubscriptionStatus" not in r4_rules.RESOURCE_TYPES  # an R4B (4.3.0) type


def test_a_valid_observation_has_no_problem_and_reports_its_reference():
    problems, refs = r4_rules.check(_observation(), "Observation")
    assert problems == []
    assert refs == [r4_rules.FoundReference("Observation.subject.reference", "Patient/p-1",
                                            ("Device", "Group", "Location", "Patient"))]


def test_a_status_outside_its_required_value_set_is_named_with_its_path():
    problems, _ = r4_rules.check(_observation(status="not-a-status"), "Bundle.entry[3].resource")
    assert [p.expression for p in problems] == ["Bundle.entry[3].resource.status"]
    assert "observation-status" in problems[0].message


def test_a_gender_outside_administrative_gender_is_refused():
    errors = validate_resource({"resourceType": "Patient", "gender": "robot"}, "Patient")
    assert [e.expression for e in errors] == ["Patient.gender"]


def test_required_codes_are_checked_inside_data_types_lists_and_extensions():
    patient = {"resourceType": "Patient", "identifier": [{"value": "1"}, {"use": "sideways", "value": "2"}],
               "extension": [{"url": "x", "valueContactPoint": {"system": "pigeon", "value": "coo"}}]}
    problems, _ = r4_rules.check(patient, "Patient")
    assert sorted(p.expression for p in problems) == ["Patient.extension[0].valueContactPoint.system",
                                                      "Patient.identifier[1].use"]


def test_a_required_coding_must_come_from_its_value_set():
    ok = {"resourceType": "Encounter", "status": "finished",
          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
    assert r4_rules.check(ok, "Encounter")[0] == []
    assert validate_resource({**ok, "status": "done"}, "Encounter")[0].expression == "Encounter.status"


def test_a_required_codeable_concept_needs_a_coding_from_its_value_set_not_text_alone():
    active = {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"}}
    assert r4_rules.check({**condition, "clinicalStatus": {"coding": [active]}}, "Condition")[0] == []
    for status in ({"text": "Active"}, {"coding": [{**active, "code": "smouldering"}], "text": "Active"}):
        problems, _ = r4_rules.check({**condition, "clinicalStatus": status}, "Condition")
        assert [p.expression for p in problems] == ["Condition.clinicalStatus"]


def test_an_element_that_r4_does_not_define_is_refused():
    problems, _ = r4_rules.check(_observation(colour="blue"), "Observation")
    assert [p.expression for p in problems] == ["Observation.colour"]
    assert r4_rules.check(_observation(_status={"extension": []}), "Observation")[0] == []


def test_a_reference_to_a_type_the_element_does_not_allow_is_refused():
    errors = validate_resource(_observation(subject={"reference": "Observation/o-2"}), "Observation")
    assert [e.expression for e in errors] == ["Observation.subject.reference"]
    assert "Device | Group | Location | Patient" in errors[0].message


def test_a_contained_resource_is_walked_by_its_own_type():
    claim = _observation(contained=[{"resourceType": "Patient", "id": "c", "gender": "robot"}])
    problems, _ = r4_rules.check(claim, "Observation")
    assert [p.expression for p in problems] == ["Observation.contained[0].gender"]


def test_a_single_resource_s_references_must_name_stored_or_contained_resources():
    stored = {("Patient", "p-1")}
    lookup = lambda pairs: {p for p in pairs if p in stored}  # noqa: E731
    assert check_references(_observation(), "Observation", lookup) == []
    assert [e.expression for e in check_references(_observation(subject={"reference": "Patient/nobody"}),
                                                   "Observation", lookup)] == ["Observation.subject.reference"]
    for dangling in ("urn:uuid:0c2b5e9e-0000-4000-8000-000000000000", "#missing", "https://elsewhere/x"):
        errors = check_references(_observation(subject={"reference": dangling}), "Observation", lookup)
        assert [e.code for e in errors] == ["not-found"], dangling
    contained = _observation(subject={"reference": "#p"}, contained=[{"resourceType": "Patient", "id": "p"}])
    assert check_references(contained, "Observation", lookup) == []


def test_the_reference_type_is_read_from_relative_absolute_and_conditional_references():
    assert r4_rules.target_type("Patient/1") == "Patient"
    assert r4_rules.target_type("Patient/1/_history/2") == "Patient"
    assert r4_rules.target_type("https://example.org/fhir/Patient/1") == "Patient"
    assert r4_rules.target_type("Organization?identifier=s|v") == "Organization"
    assert r4_rules.target_type("urn:uuid:27de96c6-6910-4f0f-8f10-00ce6090f447") is None
    assert r4_rules.target_type("#contained") is None
