"""FHIR resources as plain-language items for patients (contracts/PATIENT_FACING.md, "A clinical item").

Pure domain code: no Flask, no SQL. Names of codes and units come from the data files under
``services/records/data`` (a ``Vocabulary``); sentences are English message ids marked with
``N_`` (kept in ``services/records/translations``), translated by the ``translate`` callable the
caller passes in (gettext style). Department names are data, not code: the caller passes a
``Names`` lookup (the service reads its copy of the directory of departments).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

from contracts.vocabulary import N_

DATA = Path(__file__).resolve().parents[1] / "data"
Translate = Callable[..., str]  # translate(message_id, **params) -> text in the item's language
Names = Callable[[str], "str | None"]  # names(department id) -> its name in the item's language, or None

# The meta.tag that marks what a patient entered (documented in contracts/schemas/patient_records.py).
PATIENT_REPORTED = {"system": "https://phr.example.org/fhir/CodeSystem/record-source",
                    "code": "patient-reported", "display": "Patient-reported"}
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


# kind (one item) -> category (the ?category= filter) ---------------------------------------
CATEGORIES = {"vital-sign": "vital-signs", "laboratory": "laboratory", "survey": "surveys",
              "condition": "conditions", "immunization": "immunizations",
              "medication": "medications", "procedure": "procedures", "encounter": "encounters",
              "report": "reports", "care-plan": "care-plans", "patient-reported": "patient-reported"}
RESOURCE_KINDS = {"Condition": "condition", "Immunization": "immunization",
                  "MedicationRequest": "medication", "Procedure": "procedure",
                  "Encounter": "encounter", "DiagnosticReport": "report", "CarePlan": "care-plan"}
VISIBLE_TYPES = ("Observation", *RESOURCE_KINDS)

STATUS_TEXT = {
    "Observation": {"final": N_("Final result"), "amended": N_("Corrected result"),
                    "corrected": N_("Corrected result"), "preliminary": N_("Early result"),
                    "registered": N_("Waiting for the result"),
                    "cancelled": N_("Cancelled"), "entered-in-error": N_("Entered by mistake")},
    "Condition": {"active": N_("Active"), "recurrence": N_("Back again"),
                  "relapse": N_("Back again"), "inactive": N_("Not active"),
                  "remission": N_("Better for now"), "resolved": N_("Resolved"),
                  "entered-in-error": N_("Entered by mistake")},
    "Immunization": {"completed": N_("Given"), "not-done": N_("Not given"),
                     "entered-in-error": N_("Entered by mistake")},
    "MedicationRequest": {"active": N_("Active"), "on-hold": N_("On hold"),
                          "cancelled": N_("Cancelled"), "completed": N_("Finished"),
                          "stopped": N_("Stopped"), "draft": N_("Not yet sent"),
                          "entered-in-error": N_("Entered by mistake")},
    "Procedure": {"completed": N_("Done"), "in-progress": N_("In progress"),
                  "not-done": N_("Not done"), "stopped": N_("Stopped"),
                  "preparation": N_("Planned")},
    "Encounter": {"finished": N_("Finished"), "in-progress": N_("In progress"),
                  "planned": N_("Planned"), "arrived": N_("Arrived"),
                  "cancelled": N_("Cancelled")},
    "DiagnosticReport": {"final": N_("Final result"), "preliminary": N_("Early result"),
                         "amended": N_("Corrected result"), "registered": N_("Waiting for the result")},
    "CarePlan": {"active": N_("Active"), "completed": N_("Finished"), "draft": N_("Planned"),
                 "revoked": N_("Stopped"), "on-hold": N_("On hold")},
}
UNKNOWN_STATUS = N_("Status not known")

# One short sentence per kind: with the plain name (a known code) and without it (a code we
# cannot name yet: the title then shows the coded display, and the sentence stays plain).
SUMMARY = {
    "measured": (N_("Your {name} was {value}."), N_("Your result was {value}.")),
    "answered": (N_("For {name}, the answer was: {value}."), N_("Your answer was: {value}.")),
    "recorded": (N_("Your care team wrote down your {name}."), N_("Your care team wrote down a result.")),
    "condition": (N_("Your care team noted: {name}."),
                  N_("Your care team noted a health problem.")),
    "immunization": (N_("You got this vaccine: {name}."), N_("You got a vaccine.")),
    "medication": (N_("Your medicine: {name}."),
                   N_("Your care team prescribed a medicine.")),
    "procedure": (N_("You had this procedure: {name}."), N_("You had a procedure.")),
    "encounter": (N_("Your visit: {name}."), N_("You had a visit with your care team.")),
    "report": (N_("Your test results are ready: {name}."), N_("Your test results are ready.")),
    "care-plan": (N_("Your care plan: {name}."), N_("You have a care plan.")),
    "reading": (N_("You entered your {name}: {value}."), N_("You entered a reading: {value}.")),
    "note": (N_("You wrote a note about how you feel."), N_("You wrote a note about how you feel.")),
}
BLOOD_PRESSURE = N_("{systolic} over {diastolic} {unit}")
PANEL_CODE = "55284-4"  # LOINC blood pressure panel: systolic and diastolic are components
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
_SEMANTIC_TAG = re.compile(r"\s*\((disorder|finding|procedure|situation|qualifier value)\)\s*$")


@dataclass
class Vocabulary:
    """Plain-language names of codes and spelled-out units, per language (the data files)."""

    names: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    units: dict[str, dict[str, str]] = field(default_factory=dict)

    def name(self, system: str | None, code: str | None, lang: str) -> str | None:
        entry = self.names.get((system or "", code or ""))
        return entry.get(lang) or entry.get("en") if entry else None

    def unit(self, code: str | None, lang: str, one: bool) -> str | None:
        entry = self.units.get(code or "")
        if entry is None:
            return None
        return entry.get(f"{lang}_{'one' if one else 'other'}") or entry[f"en_{'one' if one else 'other'}"]


def load_vocabulary(data: Path = DATA) -> Vocabulary:
    """Read every code table under DATA/plain-language and the unit table DATA/units/ucum.csv."""
    vocab = Vocabulary()
    for path in sorted((data / "plain-language").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fileobj:
            for row in csv.DictReader(fileobj):
                vocab.names[(row["system"], row["code"])] = {"en": row["en"], "es": row["es"]}
    with (data / "units" / "ucum.csv").open(newline="", encoding="utf-8") as fileobj:
        for row in csv.DictReader(fileobj):
            vocab.units[row.pop("code")] = row
    return vocab


# -- classification -------------------------------------------------------------------------

def is_patient_reported(resource: dict) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(t.get("system") == PATIENT_REPORTED["system"] and t.get("code") == PATIENT_REPORTED["code"]
               for t in tags if isinstance(t, dict))


def kind_of(resource: dict) -> str | None:
    """Return the item kind of RESOURCE, or None when patients do not see it as an item."""
    rtype = resource.get("resourceType")
    if rtype != "Observation":
        return RESOURCE_KINDS.get(rtype)
    if is_patient_reported(resource):
        return "patient-reported"
    codes = {c.get("code") for cat in resource.get("category") or [] for c in cat.get("coding") or []}
    for code, kind in (("vital-signs", "vital-sign"), ("laboratory", "laboratory")):
        if code in codes:
            return kind
    return "survey"


def category_of(resource: dict) -> str | None:
    kind = kind_of(resource)
    return CATEGORIES.get(kind) if kind else None


def when(resource: dict) -> str | None:
    """Return the clinically relevant date-time of RESOURCE (ISO 8601 as stored), if any."""
    for key in ("effectiveDateTime", "occurrenceDateTime", "performedDateTime", "onsetDateTime",
                "authoredOn", "recordedDate", "issued"):
        if isinstance(resource.get(key), str):
            return resource[key]
    for key in ("effectivePeriod", "performedPeriod", "period"):
        period = resource.get(key)
        if isinstance(period, dict) and isinstance(period.get("start"), str):
            return period["start"]
    return None


@dataclass(frozen=True)
class PagePlace:
    """Where RESOURCE's item sits in the patient's list of records: the list is ordered by
    (date, resource type, id), newest first, and filtered by category. Stored beside each
    resource row so that the database pages the list; to_item shows the same date and category."""

    date: str  # the first 19 characters of the ISO date the item shows; '' when it shows none
    category: str | None  # the item's category; None when patients do not see it as an item


def page_place(resource: dict) -> PagePlace:
    """Return where the item of RESOURCE sits in the patient's list (see PagePlace)."""
    kind = kind_of(resource)
    return PagePlace((readable(when(resource)) or "")[:19], CATEGORIES.get(kind) if kind else None)


# -- pieces of an item ------------------------------------------------------------------------

def readable(iso: str | None) -> str | None:
    """Return ISO when an item can show it as a date (a year, a year and month, or a day
    with or without a time), else None."""
    if not iso:
        return None
    try:
        if len(iso) == 7:
            date(int(iso[:4]), int(iso[5:7]), 1)
        elif len(iso) != 4:
            date.fromisoformat(iso[:10])
    except ValueError:
        return None
    return iso


def long_date(iso: str | None, lang: str) -> dict | None:
    """Return {iso, display} with the date written long-form in LANG ("March 3, 2024")."""
    if readable(iso) is None:
        return None
    if len(iso) == 4:
        display = iso
    elif len(iso) == 7:
        display = format_skeleton("yMMMM", date(int(iso[:4]), int(iso[5:7]), 1), locale=lang)
    else:
        display = format_date(date.fromisoformat(iso[:10]), format="long", locale=lang)
    return {"iso": iso, "display": display}


def number(value: float, lang: str) -> str:
    """Write VALUE for reading: at most 1 decimal from 10 up, 2 below, in LANG's digits."""
    pattern = "#,##0.#" if abs(value) >= 10 else "#,##0.##"
    return format_decimal(value, format=pattern, locale=lang)


def quantity(q: dict, lang: str, vocab: Vocabulary) -> tuple[dict | None, bool]:
    """Return (the patient-facing quantity, whether its unit was spelled out)."""
    value = q.get("value") if isinstance(q, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None, False
    unit = q.get("unit") or q.get("code") or "1"
    out = {"value": value, "unit": unit}
    words = vocab.unit(q.get("code") or unit, lang, one=value == 1) or vocab.unit(unit, lang, one=value == 1)
    if words is not None:
        out["display"] = f"{number(value, lang)} {words}"
        return out, True
    return out, unit == "1"


def source(custodian: str, names: Names) -> dict:
    """The department that keeps a record, by its id and its name; a department the directory
    does not hold (never registered there, or its entry gone) still shows, its id in words."""
    return {"department": custodian,
            "display": names(custodian) or custodian.replace("-", " ").capitalize()}


def status(resource: dict, t: Translate) -> dict:
    rtype = resource.get("resourceType")
    if rtype == "Condition":
        # A condition entered in error says so in verificationStatus, and then has no
        # clinicalStatus (FHIR R4 invariant con-5).
        verification = ((resource.get("verificationStatus") or {}).get("coding") or [{}])[0].get("code")
        codings = (resource.get("clinicalStatus") or {}).get("coding") or [{}]
        code = "entered-in-error" if verification == "entered-in-error" else codings[0].get("code")
    else:
        code = resource.get("status")
    text = STATUS_TEXT.get(rtype, {}).get(code)
    return {"code": code or "unknown", "status_text": t(text or UNKNOWN_STATUS)}


def main_coding(resource: dict) -> tuple[dict, str | None]:
    """Return (the first coding of the resource's main concept, that concept's text)."""
    rtype = resource.get("resourceType")
    concept = {"Immunization": resource.get("vaccineCode"),
               "MedicationRequest": resource.get("medicationCodeableConcept"),
               "Encounter": (resource.get("type") or [None])[0],
               "CarePlan": (resource.get("category") or [None])[-1]}.get(rtype, resource.get("code"))
    if not isinstance(concept, dict):
        return {}, None
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    return (codings[0] if codings else {}), concept.get("text")


def plain_name(coding: dict, text: str | None, lang: str, vocab: Vocabulary) -> tuple[str, bool]:
    """Return (the plain name in LANG, whether it was translated) for a coded concept."""
    name = vocab.name(coding.get("system"), coding.get("code"), lang)
    if name:
        return name, True
    shown = coding.get("display") or text or coding.get("code") or "?"
    return _SEMANTIC_TAG.sub("", shown), False


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- the item ---------------------------------------------------------------------------------

def to_item(resource: dict, custodian: str, lang: str, vocab: Vocabulary, t: Translate, names: Names) -> dict:
    """Map one FHIR resource to a patient-facing item in LANG (contracts/PATIENT_FACING.md);
    NAMES gives the custodian's name in LANG."""
    kind = kind_of(resource)
    coding, text = main_coding(resource)
    name, known = plain_name(coding, text, lang, vocab)
    item = {"id": resource.get("id"), "reference": f"{resource.get('resourceType')}/{resource.get('id')}",
            "kind": kind, "category": CATEGORIES.get(kind), "title": capitalised(name),
            "summary": "", "value": None, "date": long_date(when(resource), lang),
            "status": status(resource, t),
            "code": {"system": coding.get("system"), "code": coding.get("code"),
                     "display": coding.get("display") or text or capitalised(name)} if coding else None,
            "source": source(custodian, names)}
    summary, value_text, spelled = _observation_value(resource, item, lang, vocab, t) \
        if resource.get("resourceType") == "Observation" else (kind, None, True)
    if kind == "patient-reported":
        item["patient_reported"] = True
        summary = "note" if resource.get("valueString") is not None else "reading"
        if resource.get("valueString") is not None:
            item["note"] = resource["valueString"]
    with_name, without_name = SUMMARY[summary]
    params = {"name": name, "value": value_text or ""}
    item["summary"] = t(with_name if known else without_name, **params)
    if not known or not spelled:
        item["untranslated"] = True
    return item


def _observation_value(resource, item, lang, vocab, t) -> tuple[str, str | None, bool]:
    """Fill ITEM's value (and components); return (summary key, value words, unit spelled out)."""
    components = {(c.get("code") or {}).get("coding", [{}])[0].get("code"): c
                  for c in resource.get("component") or [] if isinstance(c, dict)}
    if SYSTOLIC in components and DIASTOLIC in components:
        top, top_ok = quantity(components[SYSTOLIC].get("valueQuantity"), lang, vocab)
        bottom, bottom_ok = quantity(components[DIASTOLIC].get("valueQuantity"), lang, vocab)
        if top and bottom:
            words = vocab.unit(top["unit"], lang, one=False)
            display = t(BLOOD_PRESSURE, systolic=number(top["value"], lang),
                        diastolic=number(bottom["value"], lang), unit=words or "")
            item["value"] = {"value": top["value"], "unit": top["unit"],
                             **({"display": display} if words else {})}
            item["components"] = [
                {"title": capitalised(vocab.name("http://loinc.org", code, lang) or code), "value": q}
                for code, q in ((SYSTOLIC, top), (DIASTOLIC, bottom))]
            return "measured", display if words else number(top["value"], lang), top_ok and bottom_ok
    if "valueQuantity" in resource:
        q, spelled = quantity(resource["valueQuantity"], lang, vocab)
        if q:
            item["value"] = q
            return "measured", q.get("display") or number(q["value"], lang), spelled
    if isinstance(resource.get("valueCodeableConcept"), dict):
        concept = resource["valueCodeableConcept"]
        coding = next(iter(concept.get("coding") or []), {})
        words, known = plain_name(coding, concept.get("text"), lang, vocab)
        item["value"] = {"display": words,
                         **({"code": {"system": coding.get("system"), "code": coding.get("code"),
                                      "display": coding.get("display") or words}} if coding else {})}
        return "answered", words, known
    return "recorded", None, True
