"""Pure records domain: search parameters and dates, sensitivity labels, conditional references."""
from datetime import datetime, timezone

import pytest

from services.records.domain.bundle import InvalidBundle, plan_transaction
from services.records.domain.search import (BadSearch, date_range, decode_cursor, encode_cursor, index_of,
                                            parse_query)
from services.records.domain.sensitivity import ACT_CODE, Labeller, labels_of
from tests.support.fhir import small_bundle

UTC = timezone.utc


@pytest.mark.parametrize("text,low,high", [
    ("2020", datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
    ("2020-12", datetime(2020, 12, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
    ("2020-02-28", datetime(2020, 2, 28, tzinfo=UTC), datetime(2020, 2, 29, tzinfo=UTC)),
    ("2020-02-28T10:00:00+02:00", datetime(2020, 2, 28, 8, tzinfo=UTC), datetime(2020, 2, 28, 8, 0, 1, tzinfo=UTC)),
])
def test_a_fhir_date_is_a_range_at_its_precision(text, low, high):
    assert date_range(text) == (low, high)


def test_the_main_date_and_codes_of_an_observation_are_indexed():
    index = index_of({"resourceType": "Observation", "effectivePeriod": {"start": "2019-05-01T00:00:00Z"},
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                      "category": [{"coding": [{"code": "vital-signs"}]}]})
    assert index.main_date == datetime(2019, 5, 1, tzinfo=UTC)
    assert {(t.param, t.system, t.code) for t in index.tokens} == {
        ("code", "http://loinc.org", "8867-4"), ("category", "", "vital-signs")}


def test_search_parameters_parse_and_the_page_size_is_capped():
    q = parse_query("Observation", "primary-care", [("patient", "Patient/p"), ("_count", "500"),
                                                     ("date", "ge2020-01-01"), ("code", "http://loinc.org|1-8")])
    assert (q.patient, q.count, q.dates[0].prefix) == ("p", 100, "ge")
    assert (q.tokens[0].system, q.tokens[0].code) == ("http://loinc.org", "1-8")
    assert parse_query("Observation", "d", []).count == 20


@pytest.mark.parametrize("args", [[("category", "x")], [("bogus", "1")], [("_count", "-1")], [("_cursor", "!!")]])
def test_a_search_the_server_cannot_run_is_refused_naming_the_parameter(args):
    with pytest.raises(BadSearch) as info:
        parse_query("Patient", "d", args)
    assert info.value.param == args[0][0]


def test_a_cursor_round_trips_and_is_opaque():
    cursor = encode_cursor("abc-1")
    assert "abc" not in cursor and decode_cursor(cursor) == "abc-1"


def test_labels_come_from_the_data_files_and_the_senders_labels_stay(tmp_path):
    labeller = Labeller.from_directory()
    assert {"PSY", "SUD", "HIV", "SEX", "GDIS"} <= {label for labels in labeller.codes.values() for label in labels}
    proc = {"resourceType": "Procedure", "meta": {"security": [{"system": "x", "code": "R"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "287664005"}]}}
    labelled = labeller.apply(proc)
    assert labels_of(labelled) == {"SEX"} and {"system": "x", "code": "R"} in labelled["meta"]["security"]
    assert labeller.apply(labelled)["meta"]["security"] == labelled["meta"]["security"]
    assert labeller.apply({"resourceType": "Observation", "code": {"text": "x"}}) == \
        {"resourceType": "Observation", "code": {"text": "x"}}
    (tmp_path / "xyz.csv").write_text("system,code,display\n")
    with pytest.raises(ValueError):
        Labeller.from_directory(tmp_path)
    assert ACT_CODE.endswith("v3-ActCode")


def test_a_conditional_reference_to_an_organization_in_the_bundle_is_resolved():
    bundle = small_bundle("p-9", observations=1)
    bundle["entry"].append({"request": {"method": "POST", "url": "Organization"}, "resource": {
        "resourceType": "Organization", "id": "o-1", "identifier": [{"system": "s", "value": "v"}]}})
    bundle["entry"][1]["resource"]["performer"] = [{"reference": "Organization?identifier=s|v"},
                                                   {"reference": "Practitioner?identifier=s|none"}]
    plan = plan_transaction(bundle)
    assert plan.resources[1].content["performer"][0] == {"reference": "Organization/o-1"}
    assert plan.unresolved == {"Practitioner?identifier=s|none"}
    plan.bind(lambda rtype, system, value: ["pr-7"] if (rtype, system, value) == ("Practitioner", "s", "none") else [])
    assert plan.resources[1].content["performer"][1] == {"reference": "Practitioner/pr-7"}


def test_a_conditional_reference_that_matches_several_stored_is_refused():
    bundle = small_bundle("p-9", observations=1)
    bundle["entry"][1]["resource"]["performer"] = [{"reference": "Practitioner?identifier=s|twice"}]
    plan = plan_transaction(bundle)
    with pytest.raises(InvalidBundle) as info:
        plan.bind(lambda rtype, system, value: ["pr-1", "pr-2"])
    assert info.value.status == 422
    assert [e.expression for e in info.value.errors] == ["Bundle.entry[1].resource.performer[0].reference"]


def test_every_conditional_reference_that_matches_nothing_stored_is_named():
    bundle = small_bundle("p-9", observations=3)
    for i, value in ((1, "gone"), (2, "found"), (3, "lost")):
        bundle["entry"][i]["resource"]["performer"] = [{"reference": f"Practitioner?identifier=s|{value}"}]
    plan = plan_transaction(bundle)
    with pytest.raises(InvalidBundle) as info:
        plan.bind(lambda rtype, system, value: ["pr-1"] if value == "found" else [])
    assert sorted(e.expression for e in info.value.errors) == ["Bundle.entry[1].resource.performer[0].reference",
                                                               "Bundle.entry[3].resource.performer[0].reference"]
