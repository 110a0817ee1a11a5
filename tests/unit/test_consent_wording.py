"""Consents in plain words, in English and Spanish, that pass the patient-facing rules."""
import string
from datetime import datetime, timezone

import pytest
from babel.messages.extract import extract_from_dir

from contracts import vocabulary as v
from contracts.accessibility import check
from services.common import i18n
from services.consent.domain import model
from services.consent.domain.model import Party
from services.consent.entrypoints import wording
from tests.support.consent import directory
from tests.support.directory import entry

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
END = datetime(2025, 3, 3, 23, 59, 59, tzinfo=timezone.utc)
ROOT = i18n.ROOT
DIRECTORY = directory()


def _marked() -> set[str]:
    """The consent service's own messages and the contract's vocabulary it names codes with."""
    return {m for folder in (ROOT / "services" / "consent", ROOT / "contracts")
            for _f, _l, m, _c, _x in extract_from_dir(str(folder), [("**.py", "python")],
                                                      keywords={"N_": None})}


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_marked_message_has_a_translation_that_keeps_its_placeholders(locale):
    catalog = i18n._messages(locale)
    marked = _marked()
    assert marked and sorted(marked - set(catalog)) == []
    for msgid in marked:
        wanted = {f for _t, f, _s, _c in string.Formatter().parse(msgid) if f}
        got = {f for _t, f, _s, _c in string.Formatter().parse(catalog[msgid]) if f}
        assert got == wanted, (locale, msgid)


def test_every_purpose_and_class_has_words():
    assert set(v.PURPOSE_NAMES) == set(v.PURPOSE_PHRASES) == set(v.PURPOSE_PHRASES_FIRST_PERSON) \
        == set(v.PURPOSES)
    assert set(v.CLASS_NAMES) == set(v.RESOURCE_TYPES) | set(v.SENSITIVE_LABELS)


def _consent(classes=("Observation",), end=END, locale="en", grantee="cardiology", names=DIRECTORY):
    return model.grant("pat-1", Party("department", grantee), ["TREAT"], list(classes), NOW, end,
                       Party("patient", "pat-1"), NOW, locale,
                       lambda c: wording.consent_text(c, locale, names), departments=names)


def test_the_summary_reads_like_the_issue_says():
    assert wording.summary(_consent(), "en", NOW, DIRECTORY) == \
        "Cardiology can see your lab results to treat you until March 3, 2025."


def test_the_spanish_summary_has_a_long_form_spanish_date():
    text = wording.summary(_consent(locale="es"), "es", NOW, DIRECTORY)
    assert "Cardiología" in text and "3 de marzo de 2025" in text


@pytest.mark.parametrize("locale, name", [("en", "Physiotherapy"), ("es", "Fisioterapia")])
def test_a_department_is_named_in_every_text_by_its_directory_entry_in_the_patients_language(locale, name):
    names = directory(entry("physiotherapy", names={"en": "Physiotherapy", "es": "Fisioterapia"}))
    consent = _consent(locale=locale, grantee="physiotherapy", names=names)
    view = wording.patient_view(consent, locale, NOW, names)
    assert view["grantee"] == {"kind": "department", "id": "physiotherapy", "display": name}
    assert view["summary"].startswith(name) and name in consent.text
    renamed = directory(entry("physiotherapy", names={"en": "Physical therapy", "es": "Terapia física"}))
    assert wording.patient_view(consent, locale, NOW, renamed)["grantee"]["display"] != name
    assert consent.text == wording.consent_text(consent, locale, names)  # the agreed words stay as agreed


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("classes", [("Observation",), tuple(v.RESOURCE_TYPES[:6]) + ("PSY", "HIV")])
def test_the_patient_view_passes_the_accessibility_rules(locale, classes):
    consent = _consent(classes, locale=locale)
    body = wording.patient_view(consent, locale, NOW, DIRECTORY)
    assert check(body, locale=locale, headers={"Content-Language": locale}) == []
    consent.revoke(Party("proxy", "carer-1"), NOW)
    body = wording.patient_view(consent, locale, NOW, DIRECTORY)
    assert check(body, locale=locale, headers={"Content-Language": locale}) == []
    assert body["status"]["code"] == "revoked" and body["status"]["status_text"]


def test_the_consent_text_is_written_in_the_patients_language():
    en, es = _consent(locale="en"), _consent(locale="es")
    assert en.text.startswith("I allow Cardiology") and es.text.startswith("Permito que Cardiología")
    assert en.text_sha256 != es.text_sha256


@pytest.mark.parametrize("locale", ["en", "es"])
def test_any_mix_of_classes_and_purposes_reads_at_grade_8_or_below(locale):
    import random
    rng = random.Random(f"consent-{locale}")
    every = list(v.RESOURCE_TYPES) + list(v.SENSITIVE_LABELS)
    grantees = [d.id for d in DIRECTORY.all() if d.holds_patient_data]
    for _ in range(120):
        consent = model.grant(
            "pat-1", Party("department", rng.choice(grantees)),
            rng.sample(v.PURPOSES, rng.randint(1, 3)), rng.sample(every, rng.randint(1, 12)),
            NOW, rng.choice([None, END]), Party("patient", "pat-1"), NOW, locale,
            lambda c: wording.consent_text(c, locale, DIRECTORY), rng.random() < 0.3, departments=DIRECTORY)
        body = wording.patient_view(consent, locale, NOW, DIRECTORY)
        assert check(body, locale=locale, headers={"Content-Language": locale}) == [], consent.classes
