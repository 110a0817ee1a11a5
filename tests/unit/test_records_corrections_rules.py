"""The rules of correction requests (services/records/domain/corrections.py): due dates, days
left, which requests are open, their order, and the FHIR shapes of answers and statements."""
from datetime import date, datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.provenance import Provenance

from services.records.domain import corrections as rules

UTC = timezone.utc


def _task(tid="t-1", status="requested", authored="2026-01-10T09:00:00+00:00", **extra):
    return {"resourceType": "Task", "id": tid, "status": status, "intent": "order",
            "code": {"coding": [{"code": "change"}]}, "focus": {"reference": "Condition/c-1"},
            "for": {"reference": "Patient/p-1"}, "authoredOn": authored,
            "input": [{"type": {"text": "What is wrong"}, "valueString": "Wrong."},
                      {"type": {"text": "Correction asked for"}, "valueString": "Fix it."}], **extra}


def test_a_request_is_due_sixty_days_after_it_was_asked():
    assert rules.due_date(datetime(2026, 1, 10, 9, tzinfo=UTC)) == date(2026, 3, 11)


def test_the_due_date_counts_from_the_utc_day_it_was_asked():
    late_evening_in_new_york = datetime(2026, 1, 10, 22, tzinfo=timezone(timedelta(hours=-5)))
    assert rules.due_date(late_evening_in_new_york) == date(2026, 3, 12)


def test_days_left_is_zero_on_the_due_date_and_negative_once_overdue():
    due = date(2026, 3, 11)
    assert rules.days_left(due, date(2026, 1, 10)) == 60
    assert rules.days_left(due, date(2026, 3, 11)) == 0
    assert rules.days_left(due, date(2026, 3, 13)) == -2


def test_open_requests_come_oldest_first_and_ties_by_id():
    items = [rules.correction_of(_task("b", authored="2026-02-01T00:00:00+00:00")),
             rules.correction_of(_task("c", authored="2026-01-01T00:00:00+00:00")),
             rules.correction_of(_task("a", authored="2026-02-01T00:00:00+00:00")),
             rules.correction_of(_task("d", status="completed", authored="2025-01-01T00:00:00+00:00"))]
    assert [c.id for c in rules.in_state(items, "open")] == ["c", "a", "b"]
    assert [c.id for c in rules.in_state(items, "answered")] == ["d"]


@pytest.mark.parametrize("status, state", [("requested", "open"), ("received", "open"), ("accepted", "open"),
                                           ("in-progress", "open"), ("on-hold", "open"),
                                           ("completed", "answered"), ("rejected", "answered"),
                                           ("cancelled", "answered"), ("failed", "answered")])
def test_a_request_is_open_until_it_is_answered_or_ended(status, state):
    assert rules.correction_of(_task(status=status)).state == state


def test_a_request_with_no_readable_date_sorts_first_and_shows_overdue():
    odd = rules.correction_of(_task(authored="yesterday"))
    assert odd.asked.year == 1970 and rules.days_left(odd.due, date(2026, 1, 1)) < 0


def test_only_tasks_with_the_change_code_are_correction_requests():
    assert rules.is_correction(_task())
    assert not rules.is_correction({**_task(), "code": {"coding": [{"code": "fulfill"}]}})
    assert not rules.is_correction({"resourceType": "Condition", "code": {"coding": [{"code": "change"}]}})


def test_an_answered_task_keeps_the_outcome_the_corrected_version_and_the_provenance():
    when = datetime(2026, 2, 1, tzinfo=UTC)
    done = rules.answered_task(_task(meta={"versionId": "1", "tag": [{"code": "x"}]}), "amend", when, "pr-1",
                               corrected="Condition/c-1/_history/2")
    assert done["status"] == "completed" and done["meta"] == {"tag": [{"code": "x"}]}
    assert done["output"] == [{"type": rules.CORRECTED_RECORD, "valueReference": {"reference": "Condition/c-1/_history/2"}}]
    assert done["relevantHistory"] == [{"reference": "Provenance/pr-1"}]
    assert rules.correction_of(done).outcome == "amend" and rules.correction_of(done).state == "answered"
    denied = rules.answered_task(_task(), "deny", when, "pr-2", reason="It is right.")
    assert denied["status"] == "rejected" and denied["statusReason"] == {"text": "It is right."}


def test_the_provenance_names_the_officer_on_behalf_of_the_department_and_is_valid_r4():
    officer = rules.Officer("s-1", "Practitioner/s-1", "primary-care")
    prov = rules.provenance("pr-1", "entered-in-error", officer, "Primary care", datetime(2026, 2, 1, tzinfo=UTC),
                            "Task/t-1", ["Condition/c-1/_history/2", "Task/t-1/_history/2"])
    Provenance.model_validate(prov)
    assert prov["agent"][0]["who"]["reference"] == "Practitioner/s-1"
    assert prov["agent"][0]["onBehalfOf"]["identifier"]["value"] == "primary-care"
    assert prov["activity"]["coding"][0]["code"] == "NULLIFY"


def test_entered_in_error_is_the_status_or_the_verification_status_by_kind_of_record():
    assert rules.entered_in_error({"resourceType": "Observation", "status": "final"})["status"] == "entered-in-error"
    condition = rules.entered_in_error({"resourceType": "Condition", "clinicalStatus": {"text": "active"}})
    assert "clinicalStatus" not in condition
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    with pytest.raises(rules.CannotMarkInError):
        rules.entered_in_error({"resourceType": "Patient"})


def test_a_statement_is_a_valid_document_reference_linked_to_the_record_and_labelled_like_it():
    record = {"resourceType": "Condition", "id": "c-1",
              "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]}}
    doc = rules.disagreement_document(_task(), record, "I disagree, señor.", "es", datetime(2026, 2, 1, tzinfo=UTC))
    DocumentReference.model_validate(doc)
    assert doc["id"] == rules.statement_id("t-1") and rules.is_statement(doc)
    assert rules.statement_about(doc) == "Condition/c-1" and rules.statement_text(doc) == "I disagree, señor."
    assert doc["meta"]["security"] == record["meta"]["security"]


def test_a_statement_goes_right_after_its_record_and_never_alone():
    record = {"resourceType": "Condition", "id": "c-1"}
    other = {"resourceType": "Observation", "id": "o-1"}
    doc = rules.disagreement_document(_task(), record, "No.", "en", datetime(2026, 2, 1, tzinfo=UTC))
    assert rules.with_statements([record, other], [doc]) == [record, doc, other]
    assert rules.with_statements([other], [doc]) == [other]
    assert rules.with_statements([doc, other, record], [doc]) == [other, record, doc]
