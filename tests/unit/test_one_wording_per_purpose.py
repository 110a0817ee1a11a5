"""One wording per purpose and per department: each patient-facing answer (consent, exchange,
records, the portal's form) names a code with the same words, in English and in Spanish."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import pytest

from contracts import vocabulary as v
from gateway.portal import vocabulary as portal
from services.common import i18n
from services.consent.domain import model
from services.consent.domain.model import Party
from services.consent.entrypoints import wording as consent_words
from services.exchange.domain.model import Notification
from services.exchange.entrypoints import patient as exchange_patient
from services.exchange.entrypoints import wording as exchange_words
from services.records.domain import plain_language
from tests.support.consent import directory
from tests.support.directory import DEMO_DEPARTMENTS

LANGUAGES = ("en", "es")
NOW = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
DIRECTORY = directory()  # the demo's departments, named as the directory names them


def _consent(purposes, lang: str, department: str = "cardiology") -> model.Consent:
    return model.grant("pat-1", Party("department", department), list(purposes), ["Observation"], NOW,
                       None, Party("patient", "pat-1"), NOW, lang,
                       lambda c: consent_words.consent_text(c, lang, DIRECTORY), departments=DIRECTORY)


def _ledger_entry(purpose: str, department: str = "cardiology") -> dict:
    return {"seq": 1, "recipient": department, "basis": "consent", "redacted_count": 0,
            "resource_types": ["Observation"], "resource_count": 2, "purpose": purpose,
            "released_at": NOW.isoformat(), "consent_id": "c-1", "consent_version": 1, "hash": "0" * 64}


def _notice(kind: str, purpose: str = "TREAT", department: str = "cardiology") -> Notification:
    params = {"department": department, "purpose": purpose, "resource_count": 2}
    return Notification(id="n-1", patient="pat-1", kind=kind, params=params, created_at=NOW)


def _purpose_names(lang: str) -> dict[str, list[tuple[str, str]]]:
    """Every (where, display) pair that names a purpose in LANG, by purpose code."""
    shown = defaultdict(list)
    view = consent_words.patient_view(_consent(v.PURPOSES, lang), lang, NOW, DIRECTORY)
    for coding in view["purposes"]:
        shown[coding["code"]].append(("consent patient view", coding["display"]))
    for code in v.PURPOSES:
        shown[code].append(("exchange purpose coding", exchange_words.purpose_coding(code, lang)["display"]))
        disclosure = exchange_patient.disclosure(_ledger_entry(code), lang, DIRECTORY.name)
        shown[code].append(("exchange disclosure", disclosure["purpose"]["display"]))
    for code, name in portal.PURPOSE_NAMES.items():
        shown[code].append(("portal sharing form", i18n.translate(name, lang)))
    return shown


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_answer_names_each_purpose_with_the_same_words(lang):
    shown = _purpose_names(lang)
    assert set(shown) == set(v.PURPOSES)
    for code, pairs in shown.items():
        assert len({display for _where, display in pairs}) == 1, (code, pairs)
        assert pairs[0][1] == i18n.translate(v.PURPOSE_NAMES[code], lang)
    names = [pairs[0][1] for pairs in shown.values()]
    assert len(set(names)) == len(names), "two purposes must not read alike"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", v.PURPOSES)
def test_every_sentence_about_a_purpose_uses_its_one_phrase(lang, code):
    phrase = i18n.translate(v.PURPOSE_PHRASES[code], lang)
    own_voice = i18n.translate(v.PURPOSE_PHRASES_FIRST_PERSON[code], lang)
    consent = _consent([code], lang)
    sentences = {
        "consent summary": consent_words.summary(consent, lang, NOW, DIRECTORY),
        "exchange disclosure": exchange_patient.disclosure(_ledger_entry(code), lang, DIRECTORY.name)["summary"],
        "exchange notification": exchange_patient.notification(_notice("disclosure", code), lang,
                                                               DIRECTORY.name)["message"],
    }
    assert exchange_words.purpose_phrase(code, lang) == phrase
    assert {where: text for where, text in sentences.items() if phrase not in text} == {}
    assert own_voice in consent.text and own_voice in consent_words.consent_text(consent, lang, DIRECTORY)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_phrases_of_two_purposes_never_read_alike(lang):
    for table in (v.PURPOSE_PHRASES, v.PURPOSE_PHRASES_FIRST_PERSON):
        phrases = [i18n.translate(table[code], lang) for code in v.PURPOSES]
        assert len(set(phrases)) == len(phrases), table


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("department", [d["department"] for d in DEMO_DEPARTMENTS if d["kind"] != "oversight"])
def test_every_answer_names_each_department_with_the_same_words(lang, department):
    def translate(message: str, **params) -> str:
        return i18n.translate(message, lang, **params)

    view = consent_words.patient_view(_consent(["TREAT"], lang, department), lang, NOW, DIRECTORY)
    disclosure = exchange_patient.disclosure(_ledger_entry("TREAT", department), lang, DIRECTORY.name)
    shown = {
        "consent grantee": view["grantee"]["display"],
        "exchange recipient": disclosure["recipient"]["display"],
        "exchange notice": exchange_words.department(department, lang, DIRECTORY.name),
        "records source": plain_language.source(department, lambda d: DIRECTORY.name(d, lang))["display"],
        # the portal's form names each entry of the gateway's directory as the entry does
        "portal sharing form": DIRECTORY.get(department).name(lang),
    }
    assert set(shown.values()) == {DIRECTORY.get(department).names[lang]}, shown
    assert shown["exchange recipient"] in disclosure["title"] and shown["consent grantee"] in view["summary"]
