"""The consent rules read departments from the directory, not from code: who may be a grantee,
who may ask for a decision, who may break the glass (services/consent/domain/model.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.consent.domain import model
from services.consent.domain.model import InvalidConsent, Party
from tests.support.consent import directory
from tests.support.directory import entry

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
PATIENT = Party("patient", "pat-1")
PHYSIOTHERAPY = entry("physiotherapy", names={"en": "Physiotherapy", "es": "Fisioterapia"})
DIRECTORY = directory(PHYSIOTHERAPY)
DISABLED = {"cardiology": directory(entry("cardiology", status="disabled", version=2)),
            "emergency": directory(entry("emergency", status="disabled", version=2))}


def _consent(grantee, departments=DIRECTORY, purposes=("TREAT",)):
    return model.grant("pat-1", Party("department", grantee), list(purposes), ["Observation"], None, None,
                       PATIENT, NOW, "en", lambda c: "text", departments=departments)


def _ask(consents, actor, departments=DIRECTORY, purpose="TREAT", grants=()):
    return model.decide(consents, list(grants), actor, purpose, ["Observation"], NOW, departments=departments)


def test_a_department_the_directory_registered_is_a_grantee_and_is_permitted_with_no_code_of_its_own():
    consent = _consent("physiotherapy")
    assert model.validate_question("physiotherapy", "TREAT", ["Observation"], departments=DIRECTORY)
    assert _ask([consent], "physiotherapy").decision == "permit"


def test_a_research_department_may_be_a_grantee():
    assert _ask([_consent("research", purposes=("HRESCH",))], "research", purpose="HRESCH").decision == "permit"


@pytest.mark.parametrize("grantee, departments, reason", [
    ("dermatology", DIRECTORY, "unknown department"),
    ("physiotherapy", directory(), "unknown department"),  # not registered in that directory
    ("cardiology", DISABLED["cardiology"], "the department is not active"),
    ("oversight", DIRECTORY, "not a department that can receive records"),
])
def test_a_grantee_must_be_registered_active_and_hold_patient_data(grantee, departments, reason):
    with pytest.raises(InvalidConsent) as refused:
        _consent(grantee, departments)
    assert (refused.value.field, str(refused.value), refused.value.value) == ("grantee", reason, grantee)


def test_a_proxy_grantee_is_not_looked_up_in_the_directory():
    consent = model.grant("pat-1", Party("proxy", "carer-1"), ["TREAT"], ["Observation"], None, None,
                          PATIENT, NOW, "en", lambda c: "text", departments=directory())
    assert consent.grantee == Party("proxy", "carer-1")


def test_a_department_never_registered_cannot_ask_but_a_disabled_one_is_answered_deny():
    with pytest.raises(InvalidConsent) as refused:
        model.validate_question("dermatology", "TREAT", ["Observation"], departments=DIRECTORY)
    assert refused.value.field == "actor"
    disabled = DISABLED["cardiology"]
    assert model.validate_question("cardiology", "TREAT", ["Observation"], departments=disabled)
    consent = _consent("cardiology")  # granted while cardiology was active
    assert _ask([consent], "cardiology").decision == "permit"
    assert _ask([consent], "cardiology", departments=disabled).as_dict() == {
        "decision": "deny", "consent_id": None, "consent_version": None, "obligations": []}


def test_an_oversight_department_is_never_permitted_even_on_a_consent_naming_it():
    # A consent stored before the department became oversight (a later version of its entry).
    consent = _consent("oversight", directory(entry("oversight", kind="clinical")))
    assert _ask([consent], "oversight").decision == "deny"


def test_only_a_department_that_may_claim_emergencies_breaks_the_glass_whatever_its_claim_says():
    assert model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY).department == "emergency"
    for department, departments in [("cardiology", DIRECTORY), ("research", DIRECTORY), ("oversight", DIRECTORY),
                                     ("dermatology", DIRECTORY), ("emergency", DISABLED["emergency"])]:
        with pytest.raises(model.NotPermitted):
            model.break_glass("pat-1", department, None, NOW, departments=departments)  # no reason either


def test_a_department_registered_with_the_right_breaks_the_glass():
    trauma = directory(entry("trauma", may_claim_emergencies=True))
    grant = model.break_glass("pat-1", "trauma", "Car crash", NOW, departments=trauma)
    assert _ask([], "trauma", trauma, "ETREAT", [grant]).break_glass_id == grant.id


def test_a_claim_in_force_stops_permitting_once_its_department_is_disabled_or_loses_the_right():
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY)
    assert _ask([], "emergency", purpose="ETREAT", grants=[grant]).decision == "permit"
    assert _ask([], "emergency", DISABLED["emergency"], "ETREAT", [grant]).decision == "deny"
    no_right = directory(entry("emergency", may_claim_emergencies=False, version=2))
    assert _ask([], "emergency", no_right, "ETREAT", [grant]).decision == "deny"
    assert grant.in_force(NOW + timedelta(minutes=1))  # the claim itself has not ended
