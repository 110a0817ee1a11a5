"""The codes a consent is written in: departments, purposes of use, data classes.

Purposes are HL7 v3 PurposeOfUse (terminology.hl7.org/ValueSet/v3-PurposeOfUse); sensitivity
labels are HL7 v3 ActCode confidentiality/sensitivity codes; resource types are FHIR R4's.
"""
from __future__ import annotations

PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
LABEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RESOURCE_SYSTEM = "http://hl7.org/fhir/resource-types"

# The departments that may hold a consent (the consent domain's own small table).
DEPARTMENTS = {
    "primary-care": "Primary care",
    "cardiology": "Cardiology",
    "emergency": "Emergency",
    "research": "Research",
}

PURPOSES = ("TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PATRQT")
EMERGENCY_PURPOSE = "ETREAT"

# Sensitive classes: shared only when a consent names them (DESIGN section 4).
SENSITIVE_LABELS = ("PSY", "SUD", "HIV", "SEX", "GDIS")

RESOURCE_TYPES = (
    "AllergyIntolerance", "CarePlan", "CareTeam", "Claim", "Condition", "Coverage",
    "Device", "DiagnosticReport", "DocumentReference", "Encounter",
    "ExplanationOfBenefit", "FamilyMemberHistory", "Goal", "ImagingStudy", "Immunization",
    "Medication", "MedicationAdministration", "MedicationRequest", "MedicationStatement",
    "Observation", "Patient", "Procedure", "Provenance", "QuestionnaireResponse",
    "ServiceRequest", "Specimen",
)


def is_label(code: str) -> bool:
    """Tell whether CODE names a sensitivity label rather than a resource type."""
    return code in SENSITIVE_LABELS


def known_class(code: str) -> bool:
    return code in SENSITIVE_LABELS or code in RESOURCE_TYPES
