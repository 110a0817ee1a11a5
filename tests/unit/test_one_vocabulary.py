"""The vocabulary is written once: contracts/vocabulary.py names each purpose, the shared
catalog translates it, and no other source file spells those names again. Departments are
data, not vocabulary: their names live in the directory (launcher/demo/departments.json for
the demo), so no source file spells them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from contracts import vocabulary as v
from services.common import i18n

ROOT = i18n.ROOT
VOCABULARY = Path("contracts/vocabulary.py")
FHIR_PATTERNS = Path("contracts/http.py")
DEMO_DIRECTORY = ROOT / "launcher" / "demo" / "departments.json"
#: The one migration that names departments: it gives an older deployment's department clients
#: the names its catalog used to give them.
UPGRADE = Path("gateway/migrations/versions/0008_directory.py")
SOURCE_FOLDERS = [name for name in ("contracts", "services", "gateway", "launcher")
                  if (ROOT / name).is_dir()]

NAMES = {
    "purpose name": v.PURPOSE_NAMES,
    "purpose phrase": v.PURPOSE_PHRASES,
    "purpose phrase in the patient's voice": v.PURPOSE_PHRASES_FIRST_PERSON,
}
MESSAGE_IDS = sorted({(kind, msgid) for kind, table in NAMES.items() for msgid in table.values()})
# What exchange and the portal once said beside consent's words (the drift this vocabulary ended).
DRIFTED = ("Running the clinic", "to run the clinic", "Your request", "for billing",
           "because you asked", "Payment", "For payment", "To treat you", "To run the hospital",
           "For research", "Because you asked them to")
# The core of each FHIR R4 pattern (type and logical id), anchored or not, as written in Python.
FHIR_LITERALS = (r"[A-Z][A-Za-z]{1,63}", r"[A-Za-z0-9\-.]{1,64}")


def _sources(*suffixes: str) -> dict[Path, str]:
    return {path.relative_to(ROOT): path.read_text(encoding="utf-8")
            for folder in SOURCE_FOLDERS for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in suffixes and path.is_file() and "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def python_files() -> dict[Path, str]:
    return _sources(".py")


@pytest.fixture(scope="module")
def source_files() -> dict[Path, str]:
    return _sources(".py", ".html")


def _written_in(files: dict[Path, str], text: str) -> set[Path]:
    """Return the files that hold TEXT as a whole string literal, in either kind of quotes."""
    quoted = re.compile("([\"'])" + re.escape(text) + r"\1")
    return {path for path, source in files.items() if quoted.search(source)}


@pytest.mark.parametrize("kind,msgid", MESSAGE_IDS)
def test_each_department_and_purpose_wording_is_written_in_contracts_vocabulary_only(
        source_files, kind, msgid):
    assert _written_in(source_files, msgid) == {VOCABULARY}, (kind, msgid)


def _department_names() -> list[str]:
    purposes = {i18n.translate(name, lang) for name in v.PURPOSE_NAMES.values() for lang in i18n.SUPPORTED}
    return sorted({name for d in json.loads(DEMO_DIRECTORY.read_text()) for name in d["names"].values()}
                  - purposes)  # "Research" names a purpose too


@pytest.mark.parametrize("name", _department_names())
def test_no_source_file_spells_a_department_name_the_directory_holds(source_files, name):
    assert _written_in(source_files, name) <= {UPGRADE}, name


def test_the_wordings_that_drifted_are_gone_from_the_source_and_the_catalogs(source_files):
    assert {text: sorted(map(str, _written_in(source_files, text))) for text in DRIFTED
            if _written_in(source_files, text)} == {}
    for folder in i18n.catalogs():
        with (folder / f"{i18n.DOMAIN}.pot").open("rb") as fileobj:
            msgids = {m.id for m in read_po(fileobj) if m.id}
        assert msgids.isdisjoint(DRIFTED), folder


def test_the_vocabulary_is_translated_once_in_the_shared_catalog():
    wording = {msgid for _kind, msgid in MESSAGE_IDS} | set(v.CLASS_NAMES.values())
    for folder in i18n.catalogs():
        with (folder / f"{i18n.DOMAIN}.pot").open("rb") as fileobj:
            msgids = {m.id for m in read_po(fileobj) if m.id}
        if folder == i18n.TRANSLATIONS:
            assert wording <= msgids
        else:
            assert sorted(wording & msgids) == [], folder.parent.name


def test_one_marker_marks_every_message_and_it_is_the_contracts_own():
    assert i18n.N_ is v.N_
    assert set(i18n.KEYWORDS) == {"_", "N_", "gettext"}
    assert "[python: contracts/**.py]" in (ROOT / "babel.cfg").read_text()


@pytest.mark.parametrize("literal", FHIR_LITERALS)
def test_the_fhir_type_and_id_patterns_are_written_once_in_contracts_http(python_files, literal):
    assert {path for path, source in python_files.items() if literal in source} == {FHIR_PATTERNS}
