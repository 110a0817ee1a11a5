"""Translated prose passes the plain-language rule (docs/architecture.md, "Language")."""
from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from contracts.accessibility import check
from services.common import i18n
from services.common.i18n import Language


@pytest.mark.parametrize("locale", i18n.SUPPORTED)
def test_every_translated_message_reads_at_grade_8_or_below(locale):
    with i18n.catalog_path(locale).open("rb") as fileobj:
        prose = {m.id: m.string for m in read_po(fileobj) if m.id}
    assert check({"items": [{"message": text} for text in prose.values()]}, locale=locale) == []


@pytest.mark.parametrize("used", i18n.SUPPORTED)
def test_the_fallback_block_passes_the_patient_facing_rules(used):
    body = {"language": i18n.language_block(Language("pt-BR", used, True))}
    assert check(body, locale=used, headers={"Content-Language": used}) == []
