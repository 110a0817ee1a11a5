"""The demographics phr.records.imported carries for the equity report (docs/architecture.md,
"Accessibility and equity").

Read from the FHIR R4 Patient resource of an import:

- ``language``: the BCP 47 code of ``Patient.communication`` marked ``preferred`` (else the
  first one), as written (``en-US``, ``es``);
- ``birth_date``: ``Patient.birthDate`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``);
- ``sex``: ``Patient.gender`` (FHIR administrative gender: male, female, other, unknown);
- ``interpreter_needed``: the ``patient-interpreterRequired`` extension when the record has it;
  when it does not, the rule is that a patient whose preferred language is not the
  institution's working language (``WORKING_LANGUAGE``, English) needs one, and a patient with
  no stated language does not.

An import without the Patient resource (only observations, say) carries ``{}``: the
consumers keep what they knew.
"""
from __future__ import annotations

import re
from typing import Iterable

INTERPRETER_REQUIRED = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
WORKING_LANGUAGE = "en"
SEXES = ("male", "female", "other", "unknown")
BCP47 = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")  # the shape, not the registry
BIRTH_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")


def _language(patient: dict) -> str | None:
    comms = [c for c in patient.get("communication") or [] if isinstance(c, dict)]
    comms.sort(key=lambda c: c.get("preferred") is not True)  # the preferred one first, stable
    for comm in comms:
        for coding in (comm.get("language") or {}).get("coding") or []:
            code = coding.get("code") if isinstance(coding, dict) else None
            if isinstance(code, str) and BCP47.match(code.strip()):
                return code.strip()
    return None


def _interpreter(patient: dict, language: str | None) -> bool:
    for ext in patient.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == INTERPRETER_REQUIRED \
                and isinstance(ext.get("valueBoolean"), bool):
            return ext["valueBoolean"]
    return language is not None and language.split("-")[0].lower() != WORKING_LANGUAGE


def of_patient(patient: dict) -> dict:
    """Return the demographics of one Patient resource (a key is None when the record is silent)."""
    language = _language(patient)
    birth = patient.get("birthDate")
    gender = patient.get("gender")
    return {"language": language,
            "birth_date": birth if isinstance(birth, str) and BIRTH_DATE.match(birth) else None,
            "sex": gender if gender in SEXES else None,
            "interpreter_needed": _interpreter(patient, language)}


def of_import(resources: Iterable[dict]) -> dict:
    """Return the demographics of the Patient among RESOURCES, or {} when there is none."""
    for resource in resources:
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            return of_patient(resource)
    return {}
