"""Every message key is in every supported locale, and the .pot matches the source."""
from __future__ import annotations

import shutil

import pytest
from babel.messages.pofile import read_po, write_po

from services.common import i18n


def _entries(path):
    with path.open("rb") as fileobj:
        return {m.id: m for m in read_po(fileobj) if m.id}


@pytest.fixture(scope="module")
def source_keys() -> set[str]:
    """The message ids babel's extractor finds in the source today (babel.cfg)."""
    keys = {m.id for m in i18n.extract_catalog() if m.id}
    assert len(keys) > 50, "the extractor found almost nothing; is babel.cfg right?"
    return keys


def test_the_pot_file_is_up_to_date_with_the_source(source_keys):
    pot = set(_entries(i18n.TRANSLATIONS / "messages.pot"))
    assert source_keys - pot == set(), "run: python -m services.common.i18n extract"
    assert pot - source_keys == set(), "run: python -m services.common.i18n extract"


@pytest.mark.parametrize("locale", i18n.SUPPORTED)
def test_every_message_key_has_a_current_translation_in_every_locale(locale, source_keys):
    entries = _entries(i18n.catalog_path(locale))
    assert sorted(source_keys - set(entries)) == [], f"missing in {locale}: run update, translate"
    assert sorted(k for k in source_keys if not entries[k].string) == [], f"empty in {locale}"
    assert sorted(k for k in source_keys if entries[k].fuzzy) == [], f"fuzzy in {locale}"
    assert sorted(set(entries) - source_keys) == [], f"stale in {locale}: run update"


@pytest.mark.parametrize("locale", i18n.SUPPORTED)
def test_translations_keep_every_placeholder_of_their_key(locale):
    import string
    for msgid, entry in _entries(i18n.catalog_path(locale)).items():
        wanted = {f for _t, f, _s, _c in string.Formatter().parse(msgid) if f}
        got = {f for _t, f, _s, _c in string.Formatter().parse(entry.string) if f}
        assert got == wanted, (locale, msgid, entry.string)


def test_the_generic_title_of_every_status_code_is_in_the_catalog(source_keys):
    from services.common import problem
    for status in set(problem._SLUGS) | set(problem.TITLES):
        assert problem.title_for(status) in source_keys, status
        assert i18n.translate(problem.title_for(status), "es") != problem.title_for(status) \
            or problem.title_for(status) == "Error", status


@pytest.fixture
def copied_catalogs(tmp_path, monkeypatch):
    """The real catalogs, copied where a test may break them."""
    target = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, target)
    monkeypatch.setattr(i18n, "TRANSLATIONS", target)
    yield target
    i18n._messages.cache_clear()


def _edit(path, change):
    with path.open("rb") as fileobj:
        catalog = read_po(fileobj)
    change(catalog)
    with path.open("wb") as fileobj:
        write_po(fileobj, catalog)


def test_the_check_passes_on_the_catalogs_as_committed():
    assert i18n.check() == []


def test_the_check_fails_when_a_key_is_missing_from_one_locale(copied_catalogs):
    _edit(i18n.catalog_path("es"), lambda c: c.delete("Sign in"))
    assert "es: missing 'Sign in'" in i18n.check()


def test_the_check_fails_on_an_empty_or_fuzzy_translation(copied_catalogs):
    def spoil(catalog):
        catalog["Allow"].string = ""
        catalog["Password"].flags.add("fuzzy")
    _edit(i18n.catalog_path("es"), spoil)
    errors = i18n.check()
    assert "es: untranslated 'Allow'" in errors and "es: fuzzy 'Password'" in errors


def test_the_check_fails_on_a_stale_entry_and_an_outdated_pot(copied_catalogs):
    _edit(i18n.catalog_path("en"), lambda c: c.add("A sentence nobody uses.", "A sentence nobody uses."))
    _edit(copied_catalogs / "messages.pot", lambda c: c.delete("Allow"))
    errors = i18n.check()
    assert "en: stale 'A sentence nobody uses.' (run update)" in errors
    assert "messages.pot: missing 'Allow' (run extract)" in errors


def test_a_fuzzy_translation_is_never_shown(copied_catalogs):
    _edit(i18n.catalog_path("es"), lambda c: c["Allow"].flags.add("fuzzy"))
    i18n._messages.cache_clear()
    assert i18n.translate("Allow", "es") == "Allow"
    assert i18n.translate("Password", "es") == "Contraseña"


def test_update_adds_new_keys_and_english_is_its_own_translation(copied_catalogs):
    _edit(copied_catalogs / "messages.pot", lambda c: c.add("A brand new sentence."))
    i18n.update([copied_catalogs])
    assert _entries(i18n.catalog_path("en"))["A brand new sentence."].string == "A brand new sentence."
    assert _entries(i18n.catalog_path("es"))["A brand new sentence."].string == ""
    assert _entries(i18n.catalog_path("es"))["Allow"].string == "Permitir"
