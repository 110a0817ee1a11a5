"""Accept-Language comes from anyone: what one header, or many, can make negotiation parse and
keep is bounded, or 40 KB of unique tags would cost seconds."""
from __future__ import annotations

import langcodes
import pytest

from services.common import i18n
from services.common.i18n import Language, negotiate


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """Every tag negotiation hands to langcodes, in order."""
    seen: list[str] = []
    real = langcodes.tag_is_valid

    def counting(tag):
        seen.append(tag)
        return real(tag)

    monkeypatch.setattr(langcodes, "tag_is_valid", counting)
    i18n._standard_tag.cache_clear()
    i18n._negotiate.cache_clear()
    return seen


def _unique_tags(count: int, prefix: str = "fr-x-t") -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(count)]


def test_a_40_kb_header_of_unique_tags_has_only_its_first_few_parsed(parsed):
    header = ", ".join(_unique_tags(4000))
    assert len(header) > 40_000
    assert negotiate(header) == Language("fr-x-t000000", "en", True)
    assert len(parsed) <= i18n.MAX_RANGES


def test_langcodes_keeps_no_more_tags_however_many_unique_ones_arrive(parsed):
    before = len(langcodes.Language._PARSE_CACHE), len(langcodes.Language._INSTANCES)
    tags = _unique_tags(8 * 1500, prefix="de-x-u")
    for start in range(0, len(tags), 8):
        negotiate(", ".join(tags[start:start + 8]))
    assert len(parsed) == len(tags)  # each tag was parsed once: this is no cache hit
    bound = 4 * i18n.TAGS_KEPT + 8
    assert len(langcodes.Language._PARSE_CACHE) <= max(bound, before[0])
    assert len(langcodes.Language._INSTANCES) <= max(bound, before[1])
    assert i18n._standard_tag.cache_info().currsize <= i18n.TAGS_KEPT


def test_the_cache_keeps_the_bounded_header_not_the_whole_one(parsed):
    start = ", ".join(_unique_tags(30))
    negotiate(start + ", " + "a" * 40_000)
    hits = i18n._negotiate.cache_info().hits
    assert negotiate(start + ", " + "b" * 40_000).requested == "fr-x-t000000"
    assert i18n._negotiate.cache_info().hits == hits + 1


def test_only_the_first_eight_ranges_count():
    header = ", ".join(["de"] * i18n.MAX_RANGES + ["es"])
    assert negotiate(header) == Language("de", "en", True)
    assert negotiate(", ".join(["de"] * (i18n.MAX_RANGES - 1) + ["es"])).used == "es"


def test_a_long_header_is_cut_at_a_comma_and_a_long_single_range_counts_as_absent():
    assert negotiate("es-MX, " + "de;q=0.5, " * 100) == Language("es-MX", "es", False)
    assert negotiate("es-" + "a" * 300, "pt") == Language("pt", "en", True)
    assert negotiate(None, "es-" + "a" * 300) == Language(None, "en", False)
