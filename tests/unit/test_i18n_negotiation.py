"""Language negotiation, translation and the fallback block (docs/architecture.md, "Language")."""
from __future__ import annotations

import pytest

from services.common import i18n
from services.common.i18n import Language, language_block, negotiate, translate


@pytest.mark.parametrize("header,preferred,expected", [
    ("es", None, Language("es", "es", False)),
    ("es-MX", None, Language("es-MX", "es", False)),
    ("en-US,en;q=0.9", None, Language("en-US", "en", False)),
    ("en;q=0.2, es;q=0.9", None, Language("es", "es", False)),
    ("fr;q=0.9, es;q=0.5", None, Language("es", "es", False)),
    ("es;q=0, en", None, Language("en", "en", False)),
    ("pt-BR, fr;q=0.8", None, Language("pt-BR", "en", True)),
    ("fr;q=0.4, pt;q=0.9", None, Language("pt", "en", True)),
    ("*", None, Language(None, "en", False)),
    ("es", "pt", Language("es", "es", False)),
    ("en", "es", Language("en", "en", False)),
    ("pt", "es", Language("pt", "en", True)),
    (None, "es", Language("es", "es", False)),
    (None, "en-US", Language("en-US", "en", False)),
    ("", "es", Language("es", "es", False)),
    (None, "pt", Language("pt", "en", True)),
    (None, "es_MX", Language("es-MX", "es", False)),
    (None, None, Language(None, "en", False)),
    ("not a tag!!", None, Language(None, "en", False)),
])
def test_the_header_wins_then_the_patients_preference_then_english(header, preferred, expected):
    assert negotiate(header, preferred) == expected


def test_every_negotiated_language_is_a_supported_one():
    for header in ("de", "zh-Hant-TW", "es-419", "*;q=0.1", "xx-YY"):
        assert negotiate(header).used in i18n.SUPPORTED


def test_translate_uses_the_catalog_and_fills_in_parameters_after_translating():
    message = "Choose a password of at least {count} characters."
    assert translate(message, "es", count=10) == "Elija una contraseña de 10 caracteres o más."
    assert translate(message, "en", count=10) == "Choose a password of at least 10 characters."


def test_text_the_catalog_does_not_know_is_kept_as_it_is():
    assert translate("Something new, not in any catalog {x}.", "es", x=1) == \
        "Something new, not in any catalog 1."
    assert translate("Braces {that are not closed", "es", other=1) == "Braces {that are not closed"
    assert translate("Missing {name} stays visible.", "es") == "Missing {name} stays visible."


def test_n_marks_a_message_without_changing_it():
    assert i18n.N_("Sign in") == "Sign in"


def test_a_supported_language_needs_no_explanation_in_the_body():
    assert language_block(Language("es", "es", False)) == \
        {"requested": "es", "used": "es", "fallback": False}


def test_an_unsupported_preference_says_so_and_offers_an_interpreter():
    block = language_block(negotiate(None, "pt"))
    assert block["requested"] == "pt" and block["used"] == "en" and block["fallback"] is True
    assert "Portuguese" in block["message"] and "English" in block["message"]
    assert block["interpreter"]["offered"] is True
    assert "interpreter" in block["interpreter"]["message"]


def test_the_fallback_block_reads_in_the_language_it_falls_back_to():
    english = language_block(Language("pt", "en", True))
    spanish = language_block(Language("pt", "es", True))  # were Spanish ever the fallback
    assert spanish["message"] != english["message"] and "portugués" in spanish["message"]
    assert "intérprete" in spanish["interpreter"]["message"]


def test_a_fallback_for_an_unknown_language_still_explains_itself():
    block = language_block(Language("qaa", "en", True))
    assert block["message"] and block["interpreter"]["offered"] is True
