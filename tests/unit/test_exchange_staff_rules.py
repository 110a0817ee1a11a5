"""What a department's staff are shown: the next step after each outcome, in words naming what
was not shared and with whom (services/exchange/domain/staff.py, entrypoints/wording.py)."""
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
