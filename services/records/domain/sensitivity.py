"""Sensitivity labels (HL7 v3 ActCode PSY, SUD, HIV, SEX, GDIS) set in meta.security at import.

The code lists are data files (services/records/data/sensitivity/*.csv); this module only
reads them and matches codings. Labels a sender already set are kept.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LABELS = ("PSY", "SUD", "HIV", "SEX", "GDIS")
DISPLAY = {"PSY": "psychiatry information sensitivity", "SUD": "substance abuse information sensitivity",
           "HIV": "HIV/AIDS information sensitivity", "SEX": "sexuality and reproductive health information sensitivity",
           "GDIS": "genetic disease information sensitivity"}
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "sensitivity"

#: Elements holding the codes that decide a resource's sensitivity, per resource type.
CODED = {
    "Condition": ("code",), "Observation": ("code", "valueCodeableConcept"),
    "Procedure": ("code", "reasonCode"), "DiagnosticReport": ("code",),
    "MedicationRequest": ("medicationCodeableConcept", "reasonCode"),
    "MedicationStatement": ("medicationCodeableConcept", "reasonCode"),
    "MedicationAdministration": ("medicationCodeableConcept",), "Medication": ("code",),
    "Encounter": ("reasonCode",), "CarePlan": ("category", "addresses"),
    "AllergyIntolerance": ("code",), "ServiceRequest": ("code", "reasonCode"),
    "Immunization": ("vaccineCode",),
}


@dataclass
class Labeller:
    """{(system, code): {labels}} read from the data files."""

    codes: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def from_directory(cls, directory: Path = DATA_DIR) -> "Labeller":
        """Read every <label>.csv of DIRECTORY (comment lines start with '#')."""
        codes: dict[tuple[str, str], set[str]] = {}
        for path in sorted(directory.glob("*.csv")):
            label = path.stem.upper()
            if label not in LABELS:
                raise ValueError(f"{path.name}: {label} is not a known sensitivity label")
            rows = csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#"))
            for row in rows:
                codes.setdefault((row["system"].strip(), row["code"].strip()), set()).add(label)
        return cls(codes)

    def labels_for(self, resource: dict) -> set[str]:
        """Return the labels whose code lists match a coding of RESOURCE."""
        found: set[str] = set()
        for element in CODED.get(resource.get("resourceType"), ()):
            for coding in _codings(resource.get(element)):
                found |= self.codes.get((coding.get("system", ""), coding.get("code", "")), set())
        return found

    def apply(self, resource: dict) -> dict:
        """Return RESOURCE with its matching labels added to meta.security (sender's labels kept)."""
        labels = self.labels_for(resource)
        if not labels:
            return resource
        meta = dict(resource.get("meta") or {})
        security = list(meta.get("security") or [])
        have = {(s.get("system"), s.get("code")) for s in security if isinstance(s, dict)}
        for label in sorted(labels):
            if (ACT_CODE, label) not in have:
                security.append({"system": ACT_CODE, "code": label, "display": DISPLAY[label]})
        return {**resource, "meta": {**meta, "security": security}}


def labels_of(resource: dict) -> set[str]:
    """Return the ActCode sensitivity labels present in RESOURCE's meta.security."""
    return {s.get("code") for s in (resource.get("meta") or {}).get("security") or []
            if isinstance(s, dict) and s.get("system") == ACT_CODE and s.get("code") in LABELS}


def _codings(value) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.extend(c for c in item.get("coding") or [] if isinstance(c, dict))
            # CarePlan.addresses and similar are References; only CodeableConcepts have codings.
    return out
