"""Transaction Bundles (FHIR R4 section 3.1.0.11.2): validation, ids and reference resolution.

Pure domain code: no Flask, no SQL. Validation is two passes: the fhir.resources models (module
R4B: data types, cardinality) and the FHIR R4 4.0.1 rules of services/records/domain/r4_rules.py
(element names, required bindings, reference targets); docs/architecture.md, "One FHIR version".
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qsl

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from contracts.http import FHIR_ID_RE, FHIR_TYPE_PART
from services.common import jsontext
from services.records.domain import r4_rules

PATIENT_LINKS = ("subject", "patient", "beneficiary", "for")  # "for": Task (amendment requests)
#: Directory resources that many bundles repeat (Synthea writes the same Organization and
#: Practitioner into every patient's bundle): a POST of one that is already stored (same id,
#: or a match of its request.ifNoneExist) reuses the stored one, as a conditional create would.
DIRECTORY = ("Organization", "Practitioner", "PractitionerRole", "Location")
_CONDITIONAL = re.compile(rf"^({FHIR_TYPE_PART})\?(.+)$")

#: lookup(resource_type, system or None, value) -> id of a stored resource with that identifier.
IdentifierLookup = Callable[[str, str | None, str], "list[str]"]
#: stored(pairs of (resource_type, id)) -> the pairs of those that the store holds.
StoredLookup = Callable[[list[tuple[str, str]]], "set[tuple[str, str]]"]


@dataclass
class EntryError:
    """One problem, located by FHIRPath-like expression (OperationOutcome.issue.expression)."""

    expression: str
    message: str
    code: str = "invalid"


class InvalidBundle(Exception):
    """The Bundle cannot be processed; nothing from it may be stored."""

    def __init__(self, errors: list[EntryError], status: int = 422):
        super().__init__("; ".join(f"{e.expression}: {e.message}" for e in errors))
        self.errors, self.status = errors, status


@dataclass
class PlannedResource:
    """A resource as it will be stored: final id, resolved references, its patient."""

    index: int
    resource_type: str
    id: str
    method: str
    content: dict
    patient_id: str | None = None
    if_none_exist: str | None = None
    reuse: str | None = None  # id of the stored resource this entry resolved to (no write)

    @property
    def shared(self) -> bool:
        """True for a directory resource POSTed: an existing one is reused, not refused."""
        return self.method == "POST" and self.resource_type in DIRECTORY


@dataclass
class ImportPlan:
    """Everything a transaction will write, in entry order."""

    resources: list[PlannedResource] = field(default_factory=list)
    unresolved: set[str] = field(default_factory=set)  # conditional references left for bind()
    #: where each reference the store must resolve first appears: a conditional one, or a
    #: 'Type/id' not in the Bundle (FHIR R4 3.1.0.11.2: references must resolve or be refused)
    where: dict[str, str] = field(default_factory=dict)
    stored: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, id) -> expression

    def patients(self) -> dict[str, list[PlannedResource]]:
        """Group the planned resources by the patient they belong to."""
        groups: dict[str, list[PlannedResource]] = {}
        for r in self.resources:
            if r.patient_id:
                groups.setdefault(r.patient_id, []).append(r)
        return groups

    def bind(self, lookup: IdentifierLookup) -> None:
        """Resolve what needs the store: ifNoneExist entries and conditional references (R4 3.1.0.11.2).

        A conditional reference with no match (or several) refuses the Bundle (422); an
        ifNoneExist that matches several refuses it with 412 (R4 3.1.0.8 conditional create).
        """
        rebound: dict[str, str] = {}
        matched = {p.index: _matches(p.resource_type, p.if_none_exist, lookup)
                   for p in self.resources if p.if_none_exist}
        several = [p for p in self.resources if len(matched.get(p.index, ())) > 1]
        if several:
            raise InvalidBundle([EntryError(f"Bundle.entry[{p.index}].request.ifNoneExist",
                                            f"'{p.if_none_exist}' matches more than one resource; "
                                            "nothing was stored.", "multiple-matches") for p in several], 412)
        for planned in self.resources:
            if planned.if_none_exist and matched[planned.index]:
                found = matched[planned.index][0]
                if found != planned.id:
                    planned.reuse = found
                    rebound[f"{planned.resource_type}/{planned.id}"] = f"{planned.resource_type}/{found}"
        for ref in self.unresolved:
            rtype, _, query = ref.partition("?")
            found = _match(rtype, query, lookup)
            if found:
                rebound[ref] = f"{rtype}/{found}"
        missing = sorted(ref for ref in self.unresolved if ref not in rebound)
        if missing:
            raise InvalidBundle([EntryError(self.where.get(ref, "Bundle.entry"), f"The reference '{ref}' "
                                            "matches no resource, or more than one.", "not-found")
                                 for ref in missing])
        if rebound:
            # Most resources name none of the rebound references: find those that do in their
            # compact text before paying for the rewrite and the parse.
            needles = [f'"reference":{_COMPACT(ref)}' for ref in rebound]
            for planned in self.resources:
                text = _COMPACT(planned.content)
                if any(needle in text for needle in needles):
                    planned.content = _resolve(planned.content, rebound, None, text=text)
                    planned.patient_id = patient_of(planned.content)

    def check_stored(self, stored: StoredLookup) -> None:
        """Refuse the Bundle (422) when a 'Type/id' reference to outside it names nothing stored."""
        if self.stored:
            held = stored(list(self.stored))
            missing = [(pair, where) for pair, where in self.stored.items() if pair not in held]
            if missing:
                raise InvalidBundle([EntryError(where, f"The reference '{t}/{i}' is neither in this Bundle "
                                                "nor stored here.", "not-found") for (t, i), where in missing])


def validate_resource(resource: dict, expression: str) -> list[EntryError]:
    """Validate one resource: its R4 model, then the R4 rules (required bindings, element names,
    the types of its literal references). References to resolve are check_references'."""
    errors, _ = _validate(resource, expression)
    return errors


def check_references(resource: dict, expression: str, stored: StoredLookup) -> list[EntryError]:
    """The problems of RESOURCE's references when it is written alone (create, update): each must be
    '#contained' or 'Type/id' of a stored resource (STORED says which are), of a type its element allows."""
    errors, refs = _validate(resource, expression)
    if errors:
        return errors
    outside: dict[tuple[str, str], str] = {}
    for ref in refs:
        if ref.reference.startswith("#"):
            problem = _contained(resource, ref)
            errors.extend([problem] if problem else [])
        elif (pair := _literal(ref.reference)) is not None:
            outside.setdefault(pair, ref.expression)
        else:
            errors.append(_dangling(ref))
    if outside:
        held = stored(list(outside))
        errors += [EntryError(where, f"The reference '{t}/{i}' names nothing stored here.", "not-found")
                   for (t, i), where in outside.items() if (t, i) not in held]
    return errors


def _validate(resource: dict, expression: str) -> tuple[list[EntryError], list[r4_rules.FoundReference]]:
    """The model's problems, else the R4 rules' problems and the references found."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        return [EntryError(expression, "The resource has no resourceType.")], []
    if rtype not in r4_rules.RESOURCE_TYPES:  # R4B-only types too (Citation, SubscriptionStatus...)
        return [EntryError(expression, f"'{rtype}' is not a FHIR R4 resource type.", "not-supported")], []
    try:
        model = get_fhir_model_class(rtype)
    except (ValueError, KeyError):  # an R4 type the R4B models dropped (MedicinalProduct...)
        return [EntryError(expression, f"This server does not take {rtype} resources.", "not-supported")], []
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [EntryError(f"{expression}.{'.'.join(str(p) for p in err['loc'])}".rstrip("."),
                           err["msg"]) for err in exc.errors()[:10]], []
    problems, refs = r4_rules.check(resource, expression)
    errors = [EntryError(p.expression, p.message, p.code) for p in problems[:10]]
    for ref in refs:
        rtype = r4_rules.target_type(ref.reference)
        if rtype is not None:
            errors.extend(_wrong_type(ref, rtype))
    return errors, refs


def _wrong_type(ref: r4_rules.FoundReference, rtype: str) -> list[EntryError]:
    if ref.targets is None or rtype in ref.targets:
        return []
    return [EntryError(ref.expression, f"'{ref.reference}' points at a {rtype}; here FHIR R4 allows only "
                       f"{' | '.join(ref.targets)}.")]


def _literal(reference: str) -> tuple[str, str] | None:
    """(type, id) of a relative literal reference 'Type/id' or 'Type/id/_history/n', else None."""
    parts = reference.split("/")
    if len(parts) in (2, 4) and parts[0] in r4_rules.RESOURCE_TYPES and FHIR_ID_RE.match(parts[1]) \
            and (len(parts) == 2 or parts[2] == "_history"):
        return parts[0], parts[1]
    return None


def _contained(resource: dict, ref: r4_rules.FoundReference) -> EntryError | None:
    """A '#id' reference must name a contained resource ('#' alone: the container), FHIR R4 2.3.0.1."""
    if ref.reference == "#":
        return None
    for inner in resource.get("contained") or []:
        if isinstance(inner, dict) and inner.get("id") == ref.reference[1:]:
            return None if ref.targets is None or inner.get("resourceType") in ref.targets else \
                _wrong_type(ref, str(inner.get("resourceType")))[0]
    return EntryError(ref.expression, f"'{ref.reference}' names no contained resource.", "not-found")


def _dangling(ref: r4_rules.FoundReference) -> EntryError:
    return EntryError(ref.expression, f"The reference '{ref.reference}' does not resolve: it is not a "
                      "fullUrl of this Bundle nor 'Type/id' of a stored resource.", "not-found")


def plan_transaction(bundle: object, new_id=lambda: str(uuid.uuid4())) -> ImportPlan:
    """Check a transaction Bundle and decide ids and references, or raise InvalidBundle."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidBundle([EntryError("Bundle", "The body must be a FHIR Bundle resource.")], 400)
    if bundle.get("type") != "transaction":
        raise InvalidBundle([EntryError("Bundle.type", "Only Bundles of type 'transaction' can be posted here.")])
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise InvalidBundle([EntryError("Bundle.entry", "The Bundle has no entries.")])

    errors: list[EntryError] = []
    plan = ImportPlan()
    references: list[list[r4_rules.FoundReference]] = []
    full_urls: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            errors.append(EntryError(where, "The entry has no resource."))
            continue
        resource = entry["resource"]
        entry_errors, refs = _validate(resource, f"{where}.resource")
        if entry_errors:
            errors.extend(entry_errors)
            continue
        method, rid = _method_and_id(entry, resource, new_id, where, errors)
        if rid is None:
            continue
        rtype = resource["resourceType"]
        if (rtype, rid) in seen:
            errors.append(EntryError(where, f"{rtype}/{rid} appears twice in this Bundle.", "duplicate"))
            continue
        seen.add((rtype, rid))
        if entry.get("fullUrl"):
            full_urls[entry["fullUrl"]] = f"{rtype}/{rid}"
        plan.resources.append(PlannedResource(i, rtype, rid, method, {**resource, "id": rid},
                                              if_none_exist=(entry.get("request") or {}).get("ifNoneExist")))
        references.append(refs)
    if errors:
        raise InvalidBundle(errors)
    _check_references(plan, references, full_urls, seen)

    identifiers = _identifier_index(plan.resources)
    for planned in plan.resources:
        planned.content = _resolve(planned.content, full_urls, identifiers, plan.unresolved)
        planned.patient_id = patient_of(planned.content)
    return plan


def _check_references(plan: ImportPlan, references: list, full_urls: dict[str, str],
                      in_bundle: set[tuple[str, str]]) -> None:
    """Every reference must resolve (FHIR R4 3.1.0.11.2) to a type its element allows: to a fullUrl of
    the Bundle, a contained resource, a resource of the Bundle, or, left for the store (plan.stored,
    plan.where), 'Type/id' or a conditional reference. Anything else refuses the Bundle (422)."""
    errors: list[EntryError] = []
    for planned, refs in zip(plan.resources, references):
        for ref in refs:
            value = ref.reference
            if value in full_urls:
                errors.extend(_wrong_type(ref, full_urls[value].split("/", 1)[0]))
            elif value.startswith("#"):
                problem = _contained(planned.content, ref)
                errors.extend([problem] if problem else [])
            elif "?" in value and r4_rules.target_type(value):
                plan.where.setdefault(value, ref.expression)  # type checked by _validate
            elif (pair := _literal(value)) is not None:
                if pair not in in_bundle:
                    plan.stored.setdefault(pair, ref.expression)
            else:
                errors.append(_dangling(ref))
    if errors:
        raise InvalidBundle(errors[:20])


def _identifier_index(planned: list[PlannedResource]) -> dict[tuple[str, str | None, str], list[str]]:
    """Map (type, system, value) and (type, None, value) to the Bundle's resources with that identifier."""
    index: dict[tuple[str, str | None, str], list[str]] = {}
    for p in planned:
        for ident in p.content.get("identifier") or []:
            if isinstance(ident, dict) and ident.get("value"):
                for key in ((p.resource_type, ident.get("system") or "", str(ident["value"])),
                            (p.resource_type, None, str(ident["value"]))):
                    if p.id not in index.setdefault(key, []):
                        index[key].append(p.id)
    return index


def parse_identifier_query(query: str) -> tuple[str | None, str] | None:
    """Return (system or None, value) of 'identifier=system|value' or 'identifier=value', else None."""
    params = parse_qsl(query, keep_blank_values=True)
    if len(params) != 1 or params[0][0] != "identifier" or not params[0][1]:
        return None
    value = params[0][1]
    if "|" in value:
        system, _, code = value.partition("|")
        return (system, code) if code else None
    return None, value


def _matches(rtype: str, query: str, lookup: IdentifierLookup) -> list[str]:
    parsed = parse_identifier_query(query)
    return lookup(rtype, *parsed) if parsed else []


def _match(rtype: str, query: str, lookup: IdentifierLookup) -> str | None:
    """The id of the one resource QUERY matches (None for none or several)."""
    found = _matches(rtype, query, lookup)
    return found[0] if len(found) == 1 else None


def _method_and_id(entry, resource, new_id, where, errors) -> tuple[str, str | None]:
    request = entry.get("request") or {}
    method = str(request.get("method", "POST")).upper()
    if method == "POST":
        # Keep a client-chosen id (Synthea's ids equal their urn:uuid) so references stay stable.
        rid = resource.get("id") or new_id()
    elif method == "PUT":
        url = str(request.get("url", ""))
        rtype, _, rid = url.partition("/")
        if rtype != resource["resourceType"] or not rid:
            errors.append(EntryError(f"{where}.request.url", "A PUT needs the url 'Type/id' of this resource."))
            return method, None
    else:
        errors.append(EntryError(f"{where}.request.method", f"The method {method} is not supported here.",
                                 "not-supported"))
        return method, None
    if not FHIR_ID_RE.match(str(rid)):
        errors.append(EntryError(f"{where}.resource.id", "The id is not a valid FHIR id."))
        return method, None
    return method, str(rid)


_REFERENCE = re.compile(r'"reference":"((?:[^"\\]|\\.)*)"')
_COMPACT = jsontext.compact


def _resolve(node: dict, full_urls: dict[str, str], identifiers, unresolved: set[str] | None = None,
             text: str | None = None) -> dict:
    """Replace references to a Bundle fullUrl, or conditional ones (Type?identifier=...) that
    match one resource of the Bundle, by Type/id (FHIR 3.1.0.11.2); note the others in UNRESOLVED.

    Works on the compact JSON text: one C-speed dump and load instead of a Python tree walk.
    In compact JSON, '"reference":"' can only be a key with its string value (quotes inside
    strings are escaped). TEXT is NODE's compact JSON when the caller has it already.
    """
    text = _COMPACT(node) if text is None else text
    if '"reference":"' not in text:
        return node

    def swap(m: re.Match) -> str:
        raw = m.group(1)
        value = json.loads(f'"{raw}"') if "\\" in raw else raw  # only escapes need decoding
        new = _reference(value, full_urls, identifiers, unresolved)
        return m.group(0) if new == value else f'"reference":{_COMPACT(new)}'

    return json.loads(_REFERENCE.sub(swap, text))


def _reference(value: str, full_urls, identifiers, unresolved) -> str:
    if value in full_urls:
        return full_urls[value]
    if identifiers is None:
        return value
    conditional = _CONDITIONAL.match(value)
    if not conditional:
        return value
    parsed = parse_identifier_query(conditional.group(2))
    if parsed:
        ids = identifiers.get((conditional.group(1), *parsed), [])
        if len(ids) == 1:
            return f"{conditional.group(1)}/{ids[0]}"
    if unresolved is not None:
        unresolved.add(value)
    return value


def patient_of(resource: dict) -> str | None:
    """Return the id of the Patient whose compartment holds RESOURCE, if any."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for link in PATIENT_LINKS:
        ref = resource.get(link)
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Patient/"):
            return ref["reference"].split("/", 1)[1]
    return None
