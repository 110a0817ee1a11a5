"""Recognise the payload shapes of contracts/PATIENT_FACING.md ("Shapes the rules recognise").

Every shape is a JSON object or a string; ``check`` hands no other value to the rules.
"""
from __future__ import annotations

from typing import Any

from contracts.accessibility.model import Node

PROSE_KEYS = frozenset({"summary", "explanation", "message", "detail", "description",
                        "next_step", "text"})
LANGUAGE_KEYS = frozenset({"language", "lang", "locale"})
COLOUR_KEYS = frozenset({"colour", "color"})
QUANTITY_UNIT_KEYS = ("unit", "code", "unit_display")


def is_number(value: Any) -> bool:
    """Say whether VALUE is a JSON number (a bool is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_quantity(value: Any) -> bool:
    """An object with a numeric `value` and any of `unit`, `code`, `unit_display` (FHIR Quantity)."""
    return (isinstance(value, dict) and is_number(value.get("value"))
            and any(key in value for key in QUANTITY_UNIT_KEYS))


def is_coding(value: Any) -> bool:
    """An object with `code` and `system` (FHIR Coding); a Quantity, which has both, is not one."""
    return (isinstance(value, dict) and "code" in value and "system" in value
            and not is_quantity(value))


def is_codeable_concept(value: Any) -> bool:
    """An object with `coding` (FHIR CodeableConcept)."""
    return isinstance(value, dict) and "coding" in value and not is_quantity(value)


def is_coded_value(value: Any) -> bool:
    """A Coding or a CodeableConcept."""
    return is_coding(value) or is_codeable_concept(value)


def is_coding_in_concept(node: Node) -> bool:
    """Say whether NODE is a Coding inside a CodeableConcept's `coding` list (the concept answers)."""
    holder = node.parent
    return (holder is not None and holder.key == "coding" and isinstance(holder.value, list)
            and holder.parent is not None and is_codeable_concept(holder.parent.value))


def is_display_date(value: Any) -> bool:
    """An object with `iso` and `display`."""
    return isinstance(value, dict) and "iso" in value and "display" in value


def is_coloured_status(value: Any) -> bool:
    """An object with `colour`/`color`, or with `status` and `severity_colour`."""
    return isinstance(value, dict) and (
        any(key in value for key in COLOUR_KEYS)
        or ("status" in value and "severity_colour" in value))


def is_attachment(value: Any) -> bool:
    """An object with `contentType` (FHIR Attachment)."""
    return isinstance(value, dict) and "contentType" in value


def is_prose(node: Node) -> bool:
    """A string under a prose key, except the `text` of a coded value."""
    if not isinstance(node.value, str) or node.key not in PROSE_KEYS:
        return False
    if node.key == "text" and node.parent is not None and is_coded_value(node.parent.value):
        return False
    return True


def is_language_tag(node: Node) -> bool:
    """A string under `language`, `lang` or `locale`."""
    return isinstance(node.value, str) and node.key in LANGUAGE_KEYS
