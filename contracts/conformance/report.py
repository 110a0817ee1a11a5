"""The run's report: a summary for people and JUnit XML for CI."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import TextIO

from contracts.conformance.model import CATEGORIES, FAILED, NOT_RUN, PASSED, Result

MEANING = {
    "openapi": "an answer the OpenAPI document does not allow (5xx, undocumented status, content type or body)",
    "accessibility": "a patient-facing answer breaks an accessibility or language rule",
    "security": "a bad token or a wrong caller was not refused with a problem, or the refusal disclosed data",
    "consent": "the exchange flow did not respect the patient's consent, or did not notify them",
}


def _categories(results: list[Result]) -> list[str]:
    seen = [c for c in CATEGORIES if any(r.category == c for r in results)]
    return seen + sorted({r.category for r in results} - set(seen))


def summary(results: list[Result], out: TextIO, seconds: float, require_all: bool = False) -> None:
    """Write a readable summary: one line per category, then every failure and every check not run."""
    counts = Counter(r.outcome for r in results)
    cases = sum(r.cases for r in results)
    print("phr-conformance", file=out)
    for category in _categories(results):
        mine = [r for r in results if r.category == category]
        c = Counter(r.outcome for r in mine)
        extra = f", {sum(r.cases for r in mine)} generated cases" if category == "openapi" else ""
        print(f"  {category:<14} {c[PASSED]:>3} passed  {c[FAILED]:>3} failed  {c[NOT_RUN]:>3} not run{extra}",
              file=out)
    for result in results:
        if result.outcome == PASSED:
            continue
        mark = "FAIL" if result.failed else "NOT RUN"
        print(f"\n{mark} [{result.category}] {result.name}: {result.message}", file=out)
        for detail in result.details:
            print(f"    - {detail}", file=out)
    print(f"\n{len(results)} checks: {counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_RUN]} not run "
          f"(not counted as passed); {cases} generated cases; {seconds:.1f} s", file=out)
    verdict = verdict_of(results, require_all)
    if verdict == 0:
        note = "" if not counts[NOT_RUN] else " (some checks did not run; --require-all makes that a failure)"
        print(f"CONFORMS{note}", file=out)
    else:
        why = [category for category in _categories(results)
               if any(r.category == category and r.failed for r in results)]
        print("DOES NOT CONFORM: " + ("; ".join(f"{c}: {MEANING.get(c, c)}" for c in why)
                                      or "checks did not run and --require-all was given"), file=out)
    out.flush()


def verdict_of(results: list[Result], require_all: bool = False) -> int:
    """Return the exit status: 1 on any failure (or, with REQUIRE_ALL, any check not run), else 0."""
    if any(r.failed for r in results):
        return 1
    if require_all and any(r.outcome == NOT_RUN for r in results):
        return 1
    return 0


def junit(results: list[Result], path: str | Path) -> None:
    """Write RESULTS as JUnit XML: a testsuite per category, a testcase per check."""
    root = ET.Element("testsuites", name="phr-conformance", tests=str(len(results)),
                      failures=str(sum(r.failed for r in results)),
                      skipped=str(sum(r.outcome == NOT_RUN for r in results)),
                      time=f"{sum(r.seconds for r in results):.3f}")
    for category in _categories(results):
        mine = [r for r in results if r.category == category]
        suite = ET.SubElement(root, "testsuite", name=category, tests=str(len(mine)),
                              failures=str(sum(r.failed for r in mine)), errors="0",
                              skipped=str(sum(r.outcome == NOT_RUN for r in mine)),
                              time=f"{sum(r.seconds for r in mine):.3f}")
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"phr-conformance.{category}", name=r.name,
                                 time=f"{r.seconds:.3f}")
            if r.cases:
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", name="generated_cases", value=str(r.cases))
            if r.failed:
                failure = ET.SubElement(case, "failure", message=r.message, type=category)
                failure.text = "\n".join([r.message, *r.details])
            elif r.outcome == NOT_RUN:
                ET.SubElement(case, "skipped", message=r.message)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
