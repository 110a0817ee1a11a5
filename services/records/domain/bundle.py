"""Transaction Bundles (FHIR R4 section 3.1.0.11.2): validation, ids and reference resolution.

Pure domain code: no Flask, no SQL. Validation uses fhir.resources (module R4B).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
PATIENT_LINKS = ("subject", "patient", "beneficiary")


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


@dataclass
class ImportPlan:
    """Everything a transaction will write, in entry order."""

    resources: list[PlannedResource] = field(default_factory=list)

    def patients(self) -> dict[str, list[PlannedResource]]:
        """Group the planned resources by the patient they belong to."""
        groups: dict[str, list[PlannedResource]] = {}
        for r in self.resources:
            if r.patient_id:
                groups.setdefault(r.patient_id, []).append(r)
        return groups


def validate_resource(resource: dict, expression: str) -> list[EntryError]:
    """Validate one resource against its R4 model; return the problems found."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        return [EntryError(expression, "The resource has no resourceType.")]
    try:
        model = get_fhir_model_class(rtype)
    except (ValueError, KeyError):
        return [EntryError(expression, f"'{rtype}' is not a FHIR R4 resource type.", "not-supported")]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [EntryError(f"{expression}.{'.'.join(str(p) for p in err['loc'])}".rstrip("."),
                           err["msg"]) for err in exc.errors()[:10]]
    return []


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
    full_urls: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            errors.append(EntryError(where, "The entry has no resource."))
            continue
        resource = entry["resource"]
        entry_errors = validate_resource(resource, f"{where}.resource")
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
        plan.resources.append(PlannedResource(i, rtype, rid, method, {**resource, "id": rid}))
    if errors:
        raise InvalidBundle(errors)

    for planned in plan.resources:
        planned.content = _resolve(planned.content, full_urls)
        planned.patient_id = patient_of(planned.content)
    return plan


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
    if not _ID.match(str(rid)):
        errors.append(EntryError(f"{where}.resource.id", "The id is not a valid FHIR id."))
        return method, None
    return method, str(rid)


def _resolve(node, full_urls: dict[str, str]):
    """Replace every reference to a Bundle fullUrl by the stored Type/id (FHIR 3.1.0.11.2)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in full_urls:
                out[key] = full_urls[value]
            else:
                out[key] = _resolve(value, full_urls)
        return out
    if isinstance(node, list):
        return [_resolve(v, full_urls) for v in node]
    return node


def patient_of(resource: dict) -> str | None:
    """Return the id of the Patient whose compartment holds RESOURCE, if any."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for link in PATIENT_LINKS:
        ref = resource.get(link)
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Patient/"):
            return ref["reference"].split("/", 1)[1]
    return None
