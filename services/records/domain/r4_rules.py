"""FHIR R4 (4.0.1) rules the fhir.resources models do not check: element names, required bindings
and reference target types, from the specification's own definitions.

Pure domain code. services/records/data/fhir-r4/rules.json is generated from the specification's
definitions by services/records/entrypoints/r4_rules.py (tests/integration/test_r4_rules_source.py
checks it still matches them); docs/architecture.md, "One FHIR version", says why.

One walk of the resource's JSON, guided by the table: every key must be an R4 element of its type,
a `code`, Coding or CodeableConcept under a `required` binding must be in its value set (FHIR R4
terminologies page, "required" binding strength), and every Reference.reference is reported with
the types its element allows (its targetProfile), for the caller to resolve.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from contracts.http import FHIR_ID_PART, FHIR_TYPE_PART

_TABLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "fhir-r4" / "rules.json").read_text())
FHIR_VERSION: str = _TABLE["fhirVersion"]
RESOURCE_TYPES: frozenset[str] = frozenset(_TABLE["resources"])
_PRIMITIVES = frozenset(_TABLE["primitives"]) | {"string", "xhtml"}
#: type -> JSON key -> (child type, is a list, required value set url or None, reference targets or None)
_TYPES: dict[str, dict[str, tuple]] = {t: {k: tuple(v) for k, v in els.items()} for t, els in _TABLE["types"].items()}
#: value set url -> system -> codes; None when the definitions cannot list the codes (rules.json says why)
_VALUE_SETS: dict[str, dict[str, frozenset[str]] | None] = {
    url: None if "uncheckable" in vs else {s: frozenset(c) for s, c in vs.items()}
    for url, vs in _TABLE["valueSets"].items()}
_CODES: dict[str, frozenset[str]] = {url: frozenset().union(*vs.values()) for url, vs in _VALUE_SETS.items() if vs}
_TYPED = re.compile(rf"^(?:[a-z][a-z0-9+.-]*://[^?#]*/)?({FHIR_TYPE_PART})(?:/{FHIR_ID_PART}(?:/_history/[^/]+)?$|\?)")


@dataclass(frozen=True)
class Problem:
    """One rule broken at EXPRESSION (a FHIRPath-like location)."""

    expression: str
    message: str
    code: str = "code-invalid"


@dataclass(frozen=True)
class FoundReference:
    """A Reference.reference at EXPRESSION, and the resource types its element allows (None: any)."""

    expression: str
    reference: str
    targets: tuple[str, ...] | None


def check(resource: dict, expression: str) -> tuple[list[Problem], list[FoundReference]]:
    """Walk RESOURCE (a dict with a resourceType); return its problems and its references."""
    problems: list[Problem] = []
    references: list[FoundReference] = []
    rtype = resource.get("resourceType")
    if rtype not in RESOURCE_TYPES:
        problems.append(Problem(expression, f"'{rtype}' is not a FHIR R4 ({FHIR_VERSION}) resource type.",
                                "not-supported"))
        return problems, references
    _walk(rtype, resource, expression, problems, references)
    return problems, references


def target_type(reference: str) -> str | None:
    """The resource type a literal or conditional reference names ('Patient/1', 'http://x/fhir/Patient/1',
    'Patient?identifier=...'), or None (a urn:uuid:, a '#contained' id, anything else)."""
    m = _TYPED.match(reference)
    return m.group(1) if m else None


def _walk(tname: str, node: object, where, problems: list, references: list) -> None:
    """WHERE is the location as (parent, key, index or None), rendered only when something is reported:
    most keys of most resources report nothing, and building their paths was half of the walk."""
    if not isinstance(node, dict):
        return  # a wrong shape is the models' to report (services/records/domain/bundle.py)
    elements = _TYPES.get(tname)
    if elements is None:
        return
    for key, value in node.items():
        spec = elements.get(key)
        if spec is None:
            if key == "resourceType" or (key[:1] == "_" and key[1:] in elements):
                continue  # a primitive's id and extensions (FHIR R4 JSON format), checked by the models
            problems.append(Problem(_path((where, key, None)), f"'{key}' is not an element of {tname} in "
                                    f"FHIR R4 ({FHIR_VERSION}).", "structure"))
            continue
        child, _array, value_set, targets = spec
        if child in _PRIMITIVES and value_set is None:
            continue
        many = isinstance(value, list)
        for i, item in enumerate(value if many else (value,)):
            at = (where, key, i if many else None)
            if value_set is not None:
                _bound(child, item, value_set, at, problems)
            if child in _PRIMITIVES:
                continue
            if child == "Resource":
                if isinstance(item, dict):
                    inner = item.get("resourceType")
                    if inner in RESOURCE_TYPES:
                        _walk(inner, item, at, problems, references)
                    else:
                        problems.append(Problem(_path(at), f"'{inner}' is not a FHIR R4 ({FHIR_VERSION}) "
                                                "resource type.", "not-supported"))
                continue
            if child == "Reference" and isinstance(item, dict) and isinstance(item.get("reference"), str):
                references.append(FoundReference(_path(at) + ".reference", item["reference"],
                                                 tuple(targets) if targets else None))
            _walk(child, item, at, problems, references)


def _path(where) -> str:
    if isinstance(where, str):
        return where
    parent, key, index = where
    return f"{_path(parent)}.{key}" + ("" if index is None else f"[{index}]")


def _bound(tname: str, value: object, url: str, at, problems: list) -> None:
    vs = _VALUE_SETS.get(url)
    if vs is None:
        return  # not enumerable from the definitions (mime types, currencies): rules.json lists them
    name = url.rsplit("/", 1)[-1]
    if tname == "code":
        if isinstance(value, str) and value not in _CODES[url]:
            problems.append(Problem(_path(at), f"'{value}' is not a code of the value set {name}, "
                                    f"which FHIR R4 requires here."))
    elif tname == "Coding":
        if isinstance(value, dict) and not _in(value, vs):
            problems.append(Problem(_path(at), f"The coding is not in the value set {name}, which FHIR R4 requires here."))
    elif tname == "CodeableConcept" and isinstance(value, dict):
        # Text alone carries no concept, so it cannot be "from" the value set (R4 terminologies,
        # "required": the concept SHALL be from the specified value set).
        codings = [c for c in value.get("coding") or [] if isinstance(c, dict)]
        if not any(_in(c, vs) for c in codings):
            problems.append(Problem(_path(at), f"No coding is in the value set {name}, which FHIR R4 requires here."))


def _in(coding: dict, vs: dict[str, frozenset[str]]) -> bool:
    return coding.get("code") in vs.get(coding.get("system"), ())
