"""The values the accessibility rules exchange: a found violation, a rule's metadata, a node."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Violation:
    """One place in a payload that breaks one rule."""

    rule: str          # rule id, e.g. "plain-language"
    path: str          # JSON path, e.g. "$.items[3].summary" ("header:Content-Language" for the header)
    message: str       # what is wrong, in plain words
    standard: str      # where the rule comes from, e.g. "WCAG 2.2 SC 3.1.5 Reading Level"
    threshold: str     # the limit, e.g. "Flesch-Kincaid grade <= 8"
    observed: Any = None  # the measured or offending value

    def to_dict(self) -> dict:
        """Return the violation as a JSON-ready dict (the observed value as text if not a scalar)."""
        doc = asdict(self)
        if not isinstance(self.observed, (str, int, float, bool, type(None))):
            doc["observed"] = _short(repr(self.observed))
        return doc

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.message} (observed {self.observed!r}; " \
               f"threshold: {self.threshold}; {self.standard})"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(slots=True)  # not frozen: a page of records makes hundreds, and frozen init is slow
class Node:
    """A value met while walking a payload, with the key that holds it and its container."""

    path: str
    key: str | None           # the object key that holds the value (inherited through lists)
    value: Any
    parent: "Node | None" = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Context:
    """What a rule needs besides the node: the payload's language."""

    locale: str     # the BCP 47 tag of the payload's language, e.g. "es-MX"
    language: str   # its primary language subtag, e.g. "es"
    # Told (language, grade) of each text the reading-level rule scores: the services' runtime
    # checks keep the distribution (services/common/contract_checks.py); None: nobody asks.
    observe_grade: Callable[[str, float], None] | None = None


RuleFunction = Callable[[Node, Context], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    """A rule's metadata: what it checks, its limit and the standard it comes from."""

    id: str
    title: str
    shape: str       # the payload shape it applies to (PATIENT_FACING.md, "Shapes the rules recognise")
    threshold: str
    standard: str
    function: RuleFunction = field(repr=False, compare=False)

    def violation(self, node: Node, message: str, observed: Any = None,
                  threshold: str | None = None) -> Violation:
        """Return a violation of this rule at NODE."""
        return Violation(self.id, node.path, message, self.standard,
                         threshold or self.threshold, observed)

    def to_dict(self) -> dict:
        """Return the metadata without the function."""
        return {"id": self.id, "title": self.title, "shape": self.shape,
                "threshold": self.threshold, "standard": self.standard}
