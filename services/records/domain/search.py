"""FHIR search (R4 section 3.1.1.5) as this server supports it: what is indexed per resource,
how parameters parse, and the opaque paging cursor. Pure code: the SQL lives in adapters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from services.common import paging
from services.common.params import whole_number

#: The resource's main date (first element present), per type; Period and Timing use their start.
DATE_ELEMENTS = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    "Condition": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "Encounter": ("period",),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "Immunization": ("occurrenceDateTime",),
    "MedicationRequest": ("authoredOn",),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod", "issued"),
    "Claim": ("billablePeriod", "created"),
    "ExplanationOfBenefit": ("billablePeriod", "created"),
    "CarePlan": ("period",),
    "AllergyIntolerance": ("recordedDate", "onsetDateTime"),
    "Patient": ("birthDate",),
    "Consent": ("dateTime",),
    "DocumentReference": ("date",),
}
#: The main CodeableConcept(s), per type (the `code` parameter).
CODE_ELEMENTS = {
    "Observation": ("code",), "Condition": ("code",), "Procedure": ("code",),
    "DiagnosticReport": ("code",), "AllergyIntolerance": ("code",), "Immunization": ("vaccineCode",),
    "MedicationRequest": ("medicationCodeableConcept",), "Encounter": ("type",),
    "CarePlan": ("category",), "Claim": ("type",), "ExplanationOfBenefit": ("type",),
    "DocumentReference": ("type",),
}
CATEGORY_TYPES = ("Observation", "Condition")
PREFIXES = ("eq", "ge", "le", "gt", "lt")
DEFAULT_COUNT, MAX_COUNT = 20, 100
#: Parameters that shape the result rather than select (R4 3.1.1.5.x): they are not filters.
RESULT_PARAMS = ("_include", "_revinclude", "_summary", "_elements")
SUPPORTED = ("patient", "_count", "_since", "category", "code", "date", "identifier", "_cursor", *RESULT_PARAMS)
#: The reference search parameters _include and _revinclude follow, as (source type, parameter)
#: -> (the element that holds the reference, the type it points at): the common pairs.
REFERENCES = {
    ("Observation", "subject"): ("subject", "Patient"), ("Observation", "patient"): ("subject", "Patient"),
    ("Observation", "encounter"): ("encounter", "Encounter"),
    ("MedicationRequest", "medication"): ("medicationReference", "Medication"),
    ("MedicationRequest", "patient"): ("subject", "Patient"),
    ("MedicationRequest", "encounter"): ("encounter", "Encounter"),
    ("Condition", "patient"): ("subject", "Patient"), ("Condition", "encounter"): ("encounter", "Encounter"),
    ("Procedure", "patient"): ("subject", "Patient"), ("Procedure", "encounter"): ("encounter", "Encounter"),
    ("DiagnosticReport", "patient"): ("subject", "Patient"),
    ("DiagnosticReport", "encounter"): ("encounter", "Encounter"),
    ("Encounter", "patient"): ("subject", "Patient"), ("Encounter", "subject"): ("subject", "Patient"),
}
SUMMARIES = ("count", "false")

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


class BadSearch(ValueError):
    """A search parameter this server cannot understand (names the parameter)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@dataclass
class Token:
    """One indexed coded value: param is 'code', 'category' or 'identifier'."""

    param: str
    system: str
    code: str


@dataclass
class SearchIndex:
    """What search needs of one resource: its main date and its coded values."""

    main_date: datetime | None
    tokens: list[Token] = field(default_factory=list)


def date_range(text: str) -> tuple[datetime, datetime]:
    """Return [low, high) of a FHIR date/dateTime at its precision, in UTC (R4 2.1.28.0.1)."""
    m = _DATE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a FHIR date or dateTime")
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    zone = timezone.utc
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    if hh is not None:
        low = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss or 0),
                       int(float(frac) * 1e6) if frac else 0, tzinfo=zone)
        step = timedelta(seconds=1) if ss else timedelta(minutes=1)
        return low.astimezone(timezone.utc), (low + step).astimezone(timezone.utc)
    low = datetime(int(year), int(month or 1), int(day or 1), tzinfo=timezone.utc)
    if day:
        high = low + timedelta(days=1)
    elif month:
        high = low.replace(year=low.year + (low.month == 12), month=low.month % 12 + 1)
    else:
        high = low.replace(year=low.year + 1)
    return low, high


def main_date(resource: dict) -> datetime | None:
    """Return the start of the resource's main date, or None."""
    for element in DATE_ELEMENTS.get(resource.get("resourceType"), ()):
        value = resource.get(element)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str):
            try:
                return date_range(value)[0]
            except ValueError:
                return None
    return None


def index_of(resource: dict) -> SearchIndex:
    """Compute the search index entries of RESOURCE."""
    rtype = resource.get("resourceType")
    tokens: list[Token] = []
    for element in CODE_ELEMENTS.get(rtype, ()):
        tokens.extend(_tokens("code", resource.get(element)))
    if rtype in CATEGORY_TYPES:
        tokens.extend(_tokens("category", resource.get("category")))
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            tokens.append(Token("identifier", str(ident.get("system") or ""), str(ident["value"])))
    unique = {(t.param, t.system, t.code): t for t in tokens}
    return SearchIndex(main_date(resource), list(unique.values()))


def _tokens(param: str, value) -> list[Token]:
    out = []
    for concept in value if isinstance(value, list) else [value]:
        if isinstance(concept, dict):
            for c in concept.get("coding") or []:
                if isinstance(c, dict) and c.get("code"):
                    out.append(Token(param, str(c.get("system") or ""), str(c["code"])))
    return out


@dataclass
class DateFilter:
    prefix: str
    low: datetime
    high: datetime


@dataclass
class TokenFilter:
    """system None = any system (the `code` form); '' = no system (the `|code` form)."""

    param: str
    system: str | None
    code: str


@dataclass
class SearchQuery:
    """A parsed search: filters, page size and the cursor to resume after. It runs over what
    CUSTODIAN holds (a department), or over one patient's COMPARTMENT (a patient's app)."""

    resource_type: str
    custodian: str | None
    patient: str | None = None
    since: datetime | None = None
    dates: list[DateFilter] = field(default_factory=list)
    tokens: list[TokenFilter] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    after: str | None = None
    compartment: str | None = None
    includes: list[tuple[str, str]] = field(default_factory=list)  # (source type, parameter)
    revincludes: list[tuple[str, str]] = field(default_factory=list)
    count_only: bool = False  # _summary=count
    elements: list[str] | None = None  # _elements


def includes_of(resource_type: str) -> list[str]:
    """The _include values a search of RESOURCE_TYPE takes (CapabilityStatement searchInclude)."""
    return [f"{src}:{param}" for src, param in REFERENCES if src == resource_type]


def revincludes_of(resource_type: str) -> list[str]:
    """The _revinclude values a search of RESOURCE_TYPE takes (searchRevInclude)."""
    return [f"{src}:{param}" for (src, param), (_, target) in REFERENCES.items() if target == resource_type]


def references(resource: dict, element: str) -> list[str]:
    """The literal references 'Type/id' in RESOURCE's ELEMENT (one Reference or a list of them)."""
    value = resource.get(element)
    out = []
    for ref in value if isinstance(value, list) else [value]:
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str) and ref["reference"].count("/") == 1:
            out.append(ref["reference"])
    return out


def subsetted(resource: dict, elements: list[str]) -> dict:
    """RESOURCE with only ELEMENTS (and its mandatory id, meta, resourceType), marked SUBSETTED
    in meta.tag as R4 3.1.1.5.9 asks."""
    kept = {k: v for k, v in resource.items() if k in elements or k in ("resourceType", "id", "meta")}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    return {**kept, "meta": meta}


SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}


def parse_query(resource_type: str, custodian: str | None, args: list[tuple[str, str]],
                compartment: str | None = None) -> SearchQuery:
    """Build a SearchQuery from the request's (name, value) pairs or raise BadSearch."""
    q = SearchQuery(resource_type, custodian, compartment=compartment)
    for name, value in args:
        if name == "patient":
            q.patient = value.removeprefix("Patient/")
        elif name == "_count":
            count = whole_number(value)
            if count is None or count < 1:
                raise BadSearch(name, "_count must be a whole number of 1 or more.")
            q.count = min(count, MAX_COUNT)
        elif name == "_since":
            q.since = _date(name, value)[0]
        elif name == "date":
            prefix, rest = (value[:2], value[2:]) if value[:2] in PREFIXES else ("eq", value)
            low, high = _date(name, rest)
            q.dates.append(DateFilter(prefix, low, high))
        elif name in ("code", "category", "identifier"):
            if name == "category" and resource_type not in CATEGORY_TYPES:
                raise BadSearch(name, f"category is searchable on {' and '.join(CATEGORY_TYPES)} only.")
            if name == "code" and resource_type not in CODE_ELEMENTS:
                raise BadSearch(name, f"code is not searchable on {resource_type}.")
            q.tokens.append(_token(name, value))
        elif name == "_cursor":
            q.after = decode_cursor(value)
        elif name in ("_include", "_revinclude"):
            pair = _reference_param(name, value, resource_type)
            (q.includes if name == "_include" else q.revincludes).append(pair)
        elif name == "_summary":
            if value not in SUMMARIES:
                raise BadSearch(name, "_summary takes count or false.")
            q.count_only = value == "count"
        elif name == "_elements":
            q.elements = [e.strip() for e in value.split(",") if e.strip()]
            if not q.elements or not all(re.match(r"^[a-z][A-Za-z0-9]*$", e) for e in q.elements):
                raise BadSearch(name, "_elements takes element names separated by commas, e.g. code,subject.")
        elif name.startswith("_") and name in ("_format", "_pretty"):
            continue
        else:
            raise BadSearch(name, f"The search parameter {name} is not supported.")
    return q


def _reference_param(name: str, value: str, resource_type: str) -> tuple[str, str]:
    """Parse Source:param[:Target] of _include (source = the searched type) or _revinclude
    (target = the searched type) into (source, param), or raise BadSearch."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or (parts[0], parts[1]) not in REFERENCES:
        known = includes_of(resource_type) if name == "_include" else revincludes_of(resource_type)
        raise BadSearch(name, f"{name} takes one of: {', '.join(known) or 'none for this type'}.")
    source, param = parts[0], parts[1]
    target = REFERENCES[(source, param)][1]
    if (name == "_include" and source != resource_type) or (name == "_revinclude" and target != resource_type) \
            or (len(parts) == 3 and parts[2] != target):
        raise BadSearch(name, f"{value} does not apply to a search of {resource_type}.")
    return source, param


def _date(name: str, value: str) -> tuple[datetime, datetime]:
    try:
        return date_range(value)
    except ValueError:
        raise BadSearch(name, f"{name} must be a FHIR date such as 2020-01-31, optionally with a prefix "
                              "eq, ge, le, gt or lt.") from None


def _token(name: str, value: str) -> TokenFilter:
    """Parse `system|code`, `|code` or `code` (R4 3.1.1.5.5); several values are not supported."""
    if not value or "," in value:
        raise BadSearch(name, f"{name} takes one value: system|code or code.")
    if "|" in value:
        system, _, code = value.partition("|")
        if not code:
            raise BadSearch(name, f"{name} needs a code after the '|'.")
        return TokenFilter(name, system, code)
    return TokenFilter(name, None, value)


def encode_cursor(last_id: str) -> str:
    """Return the opaque cursor (services.common.paging) that resumes a search after LAST_ID."""
    return paging.encode("search", last_id)


def decode_cursor(cursor: str) -> str:
    """Return the id a search cursor resumes after, or raise BadSearch naming _cursor."""
    try:
        return paging.decode(cursor, "search", str)[0]
    except paging.BadCursor:
        raise BadSearch("_cursor", "The paging cursor is not valid; start the search again.") from None
