"""Comments and docstrings cite what a reader of the repository can open.

A design reference points to docs/architecture.md ("<Section>"), and the reason a piece of
code exists is said in words: never a section of the design brief or the brief's file name
(a document outside the repository), never an issue number (a tracker a reader of the code
may not have). The examples below are split in two so that a grep for them finds none here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "services", "gateway", "launcher", "bench")
BRIEF = "DESIGN"
UNREACHABLE = re.compile(BRIEF + r" section|" + BRIEF + r"\.md|\bissues? #?\d", re.IGNORECASE)


def _citations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if UNREACHABLE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_cites_a_design_brief_section_or_an_issue_number(package):
    found = _citations(package)
    assert found == [], ("cite docs/architecture.md, \"<Section>\", or say the reason in words:\n"
                         + "\n".join(found))


@pytest.mark.parametrize("line", [
    '"""Consents (DESIGN' ' section 4)."""', "# see DESIGN" ".md", "# Issue #" "15, point 7: 40 KB",
    '"""Nothing is kept for ever (issue' ' 15, point 14)."""', "# issues" " 4 and 5",
])
def test_the_check_catches_each_kind_of_unreachable_citation(line):
    assert UNREACHABLE.search(line)


@pytest.mark.parametrize("line", [
    '"""Consents (docs/architecture.md, "Consent rules")."""', 'outcome = {"issue": [issue]}',
    "# an OperationOutcome issue names the entry", "design = 'DESIGNATED'",
])
def test_the_check_leaves_ordinary_text_alone(line):
    assert not UNREACHABLE.search(line)
