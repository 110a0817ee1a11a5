"""What a department's staff are shown: the next step after each outcome, in words naming what
was not shared and with whom (services/exchange/domain/staff.py, entrypoints/wording.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.common import i18n
from services.common.directory import Department, Directory
from services.exchange.domain import model as m
from services.exchange.domain import staff as rules
from services.exchange.entrypoints import wording as w
from tests.support.directory import DEMO_DEPARTMENTS, entry

DIRECTORY = Directory.of([Department.from_event_data(entry(d["department"])) for d in DEMO_DEPARTMENTS])


@pytest.mark.parametrize("outcome, step", [
    (None, "wait"), ("released", "none"), ("no-consent", "ask-patient-to-share"),
    ("consent-withdrawn", "ask-patient-to-share"), ("consent-narrowed", "ask-again"),
    ("consent-unavailable", "try-again"), ("records-unavailable", "try-again"),
    ("refused-by-consent", "try-again"), ("department-disabled", "none"),
])
def test_each_outcome_leads_to_one_next_step(outcome, step):
    assert rules.next_step(outcome) == step


def test_every_outcome_has_a_next_step_in_words_in_english_and_spanish():
    assert set(w.NEXT_STEP_TEXTS) == set(rules.NEXT_STEPS) == {"pending", *m.OUTCOMES}
    for code, text in w.NEXT_STEP_TEXTS.items():
        assert i18n.translate(text, "es") != text, code


def test_a_denial_names_the_kinds_asked_for_and_the_department_in_the_readers_language():
    names = DIRECTORY.name
    english = w.next_step_text("no-consent", ["Observation", "Immunization", "Observation"],
                               w.department("cardiology", "en", names), "en")
    assert english == "The patient has not shared lab results and vaccines with Cardiology. You can ask them to share."
    spanish = w.next_step_text("no-consent", ["Observation"], w.department("cardiology", "es", names), "es")
    assert spanish == "El paciente no ha compartido análisis de laboratorio con Cardiología. Puede pedirle que los comparta."


def test_three_kinds_are_listed_with_commas_and_a_sensitive_label_by_its_name():
    assert w.kinds_phrase(["Observation", "Immunization", "PSY"], "en") == (
        "lab results, vaccines, and mental health notes")
    assert w.kinds_phrase([], "en") == "other records"


# -- the break-the-glass review queue ----------------------------------------------------------
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _item(claim_id, hours, sensitive=()):
    return rules.Review(claim_id, "p-1", "emergency", T0 + timedelta(hours=hours), "Unconscious",
                        [{"label": label, "reason": "why"} for label in sensitive])


def test_the_queue_orders_claims_naming_a_sensitive_class_first_then_the_oldest():
    items = [_item("old", 0), _item("new-psy", 50, ["PSY"]), _item("mid", 10), _item("old-hiv", 5, ["HIV"]),
             _item("same-time-b", 10)]
    assert [i.claim_id for i in sorted(items, key=rules.queue_key)] == [
        "old-hiv", "new-psy", "old", "mid", "same-time-b"]


def test_a_claim_is_overdue_once_72_hours_have_passed_since_it_was_made_unless_reviewed():
    item = _item("g-1", 0)
    assert not item.overdue(T0 + timedelta(hours=72) - timedelta(seconds=1))
    assert item.next_step(T0 + timedelta(hours=72) - timedelta(seconds=1)) == "review"
    assert item.overdue(T0 + timedelta(hours=72)) and item.next_step(T0 + timedelta(hours=72)) == "review-now"
    done = item.review("justified", None, "po-1", "Practitioner/po-1", T0 + timedelta(hours=80))
    assert not done.overdue(T0 + timedelta(days=30)) and done.next_step(T0 + timedelta(days=30)) == "none"
    assert done.waited(T0 + timedelta(days=30)) == timedelta(hours=80), "the wait ends at the review"
    assert item.waited(T0 - timedelta(hours=1)) == timedelta(0)


def test_a_review_is_recorded_once_and_not_justified_needs_a_note():
    item = _item("g-1", 0)
    with pytest.raises(rules.NoteRequired):
        item.review("not-justified", "  ", "po-1", None, T0)
    done = item.review("not-justified", " Not an emergency. ", "po-1", None, T0)
    assert (done.status, done.outcome, done.note) == ("reviewed", "not-justified", "Not an emergency.")
    with pytest.raises(rules.AlreadyReviewed):
        done.review("justified", None, "po-2", None, T0)
    with pytest.raises(ValueError):
        item.review("maybe", None, "po-1", None, T0)


def test_the_patients_notice_of_a_review_says_the_outcome_in_plain_words_in_both_languages():
    for kind in ("break-glass-justified", "break-glass-not-justified"):
        title, message = w.NOTICES[kind]
        assert i18n.translate(message, "es", department="Urgencias").startswith(
            "Revisamos el acceso de emergencia de Urgencias.")
    assert set(w.REVIEW_NEXT_STEPS) == {rules.REVIEW, rules.REVIEW_NOW, rules.REVIEW_DONE}
    assert w.t(w.NOTICES["break-glass-not-justified"][1], "en", department="Emergency") == (
        "We checked the emergency access by Emergency. We found it was not needed. We are looking into it.")
