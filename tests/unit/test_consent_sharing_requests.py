"""The rules of sharing requests: who may ask, one equal request at a time, a bound against
nagging, thirty days to answer, and an approval that grants the consent by the rule of any other."""
from datetime import datetime, timedelta, timezone

import pytest

from services.consent.domain import model, sharing
from services.consent.domain.model import InvalidConsent, NotPermitted, Party
from services.consent.domain.sharing import Person
from tests.support.consent import directory
from tests.support.directory import entry

DIRECTORY = directory()
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
CLINICIAN = Person("s-1", "Practitioner/s-1", "clinician")
PATIENT = Party("patient", "pat-1")


def _ask(waiting=(), department="cardiology", classes=("Observation",), purposes=("TREAT",), days=30,
         end=None, reason="To plan your heart care.", now=NOW, departments=DIRECTORY, patient="pat-1",
         exchange_request=None):
    return sharing.ask(patient, department, CLINICIAN, list(classes), list(purposes), days, end, reason,
                       exchange_request, now, list(waiting), departments=departments)


def test_a_clinical_department_asks_and_the_request_waits_for_the_patient():
    request = _ask()
    assert request.status == "pending" and request.status_at(NOW, DIRECTORY) == "pending"
    assert request.department == "cardiology" and request.requested_by == CLINICIAN
    assert request.events == ["requested"]
    assert request.expires_at == NOW + timedelta(days=30)


@pytest.mark.parametrize("department", ["oversight", "unknown-dept"])
def test_a_department_that_may_not_hold_a_consent_may_not_ask_for_one(department):
    with pytest.raises(NotPermitted):
        _ask(department=department)


def test_a_disabled_department_may_not_ask():
    disabled = directory(entry("cardiology", status="disabled", version=2))
    with pytest.raises(NotPermitted):
        _ask(departments=disabled)


@pytest.mark.parametrize("change, field", [
    ({"classes": ["Nope"]}, "classes"), ({"classes": []}, "classes"),
    ({"purposes": ["TREAT", "HRESCH"]}, "purposes"), ({"purposes": ["CURE"]}, "purposes"),
    ({"days": 0}, "period.days"), ({"days": 367}, "period.days"), ({"days": True}, "period.days"),
    ({"days": None}, "period"), ({"days": 3, "end": NOW + timedelta(days=3)}, "period"),
    ({"days": None, "end": NOW - timedelta(days=1)}, "period.end"),
    ({"days": None, "end": NOW + timedelta(days=400)}, "period.end"),
    ({"reason": "  "}, "reason"), ({"reason": "x" * 1001}, "reason"),
    ({"patient": ""}, "patient"), ({"patient": "p" * 65}, "patient"),
    ({"exchange_request": 7}, "exchange_request")])
def test_a_request_that_breaks_a_rule_names_the_field(change, field):
    with pytest.raises(InvalidConsent) as raised:
        _ask(**change)
    assert raised.value.field == field


def test_the_same_request_again_while_one_waits_is_a_duplicate_in_any_order():
    first = _ask(classes=("Observation", "Condition"))
    with pytest.raises(sharing.Duplicate) as raised:
        _ask([first], classes=("Condition", "Observation"))
    assert raised.value.existing_id == first.id
    assert _ask([first], purposes=("HOPERAT",)).status == "pending"  # another purpose is another ask


def test_a_department_may_have_three_requests_waiting_on_one_patient_and_no_more():
    waiting = [_ask(classes=(kind,)) for kind in ("Observation", "Condition", "Procedure")]
    with pytest.raises(sharing.TooMany):
        _ask(waiting, classes=("Immunization",))
    assert _ask(waiting, classes=("Immunization",), patient="pat-2").patient == "pat-2"
    assert _ask(waiting, classes=("Immunization",), department="primary-care").department == "primary-care"


def test_answered_and_expired_requests_do_not_count_against_the_bound_or_as_duplicates():
    old = _ask(now=NOW - timedelta(days=31))
    answered = _ask(classes=("Condition",))
    answered.decline(PATIENT, NOW, DIRECTORY)
    assert _ask([old, answered]).status == "pending"
    assert _ask([old, answered], classes=("Condition",)).status == "pending"


def test_a_request_expires_after_thirty_days_or_when_its_department_is_disabled():
    request = _ask()
    assert request.status_at(NOW + timedelta(days=30) - timedelta(seconds=1), DIRECTORY) == "pending"
    assert request.status_at(NOW + timedelta(days=30), DIRECTORY) == "expired"
    disabled = directory(entry("cardiology", status="disabled", version=2))
    assert request.status_at(NOW, disabled) == "expired"
    with pytest.raises(sharing.Expired):
        request.approve("c-1", PATIENT, NOW, disabled)
    with pytest.raises(sharing.Expired):
        request.decline(PATIENT, NOW + timedelta(days=31), DIRECTORY)


def test_a_request_whose_end_date_has_passed_expires():
    request = _ask(days=None, end=NOW + timedelta(days=2))
    assert request.status_at(NOW + timedelta(days=2), DIRECTORY) == "expired"


def test_an_answer_is_given_once():
    request = _ask()
    request.approve("c-1", PATIENT, NOW, DIRECTORY)
    assert (request.status, request.consent_id, request.answered_by) == ("approved", "c-1", PATIENT)
    with pytest.raises(sharing.AlreadyAnswered):
        request.decline(PATIENT, NOW, DIRECTORY)
    with pytest.raises(sharing.AlreadyAnswered):
        request.approve("c-2", PATIENT, NOW, DIRECTORY)


def test_the_consent_an_approval_grants_lasts_the_days_asked_from_the_answer():
    request = _ask(classes=("Observation", "PSY"), days=30)
    later = NOW + timedelta(days=3)
    consent = sharing.consent_for(request, PATIENT, later, "en", lambda c: "the text", departments=DIRECTORY)
    assert consent.grantee == Party("department", "cardiology")
    assert consent.purposes == ("TREAT",) and consent.classes == ("Observation", "PSY")
    assert (consent.start, consent.end) == (later, later + timedelta(days=30))
    assert consent.created_by == PATIENT and consent.text_sha256 == model.sha256("the text")


def test_the_consent_an_approval_grants_ends_on_the_date_asked():
    end = NOW + timedelta(days=60)
    consent = sharing.consent_for(_ask(days=None, end=end), PATIENT, NOW, "en", lambda c: "t",
                                  departments=DIRECTORY)
    assert consent.end == end


def test_a_research_department_may_ask_as_it_may_hold_a_consent():
    assert _ask(department="research", purposes=("HRESCH",)).department == "research"
