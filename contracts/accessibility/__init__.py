"""The accessibility and language rules of contract v1, runnable on any JSON payload
(docs/architecture.md, "Accessibility and equity").

``check(payload, locale="es", headers=response_headers)`` returns the ``Violation``s of a
patient-facing response; ``RULES`` describes each rule (id, threshold, standard). The shapes
the rules look for are those of contracts/PATIENT_FACING.md, found at any depth.
Command line: ``python -m contracts.accessibility FILE.json [--locale es]``.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from contracts.accessibility.model import Context, Node, Rule, Violation
from contracts.accessibility.rules import BY_TYPE, HEADER_PATH, RULES, language_tag
from contracts.accessibility.walker import walk

__all__ = ["RULES", "Rule", "Violation", "check", "language_of"]


def check(payload: Any, *, locale: str = "en", headers: Mapping[str, str] | None = None,
          observe_grade: Callable[[str, float], None] | None = None) -> list[Violation]:
    """Return every violation of the rules in PAYLOAD written in LOCALE, in document order.

    With HEADERS (a response's headers), the Content-Language header must be present and valid.
    OBSERVE_GRADE(language, grade) is told the grade of each text the reading-level rule scores.
    """
    ctx = Context(locale, language_of(locale), observe_grade)
    found: list[Violation] = []
    if headers is not None:
        header = next((v for k, v in headers.items() if k.lower() == "content-language"), None)
        found.extend(language_tag(Node(HEADER_PATH, "Content-Language", header), ctx))
    for node in walk(payload):
        value = node.value
        # Every shape in shapes.py is an object or a string: a rule sees only values of its type.
        functions = BY_TYPE[dict] if isinstance(value, dict) else BY_TYPE[str] if isinstance(value, str) else ()
        for function in functions:
            if function.recognise(node):
                found.extend(function(node, ctx))
    return found


def language_of(locale: str | None) -> str:
    """Return the primary language subtag of LOCALE ("es" for "es-MX"), "en" if it has none."""
    primary = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 8 else "en"
