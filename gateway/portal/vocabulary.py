"""The choices the portal's forms offer, in plain words, over the codes of the public contract.

The codes, and the names of purposes, come from ``contracts/vocabulary.py`` (one wording for a
code wherever a patient reads it); the departments and their names are data, the gateway's
directory (gateway/portal/views.py reads it); only the form's own words (groups of record
types, the private-records checkboxes, periods, caregiver rights) are the portal's.
"""
from __future__ import annotations

from contracts import vocabulary
from contracts.schemas.patient_records import RECORD_CATEGORIES
from services.common.i18n import N_

#: The portal client's name as the sign-in page shows it (gateway/admin/clients.py stores it in English;
#: the login template translates known names and shows other clients' names as they are).
CLIENT_NAME = N_("Patient portal")

#: Groups of FHIR resource types a patient picks from (the consent names the types).
CLASS_GROUPS = {
    "tests": (N_("Test results and measurements"), ("Observation", "DiagnosticReport")),
    "conditions": (N_("Health problems"), ("Condition",)),
    "medicines": (N_("Medicines"), ("MedicationRequest", "MedicationStatement", "Medication",
                                    "MedicationAdministration")),
    "allergies": (N_("Allergies"), ("AllergyIntolerance",)),
    "vaccines": (N_("Vaccines"), ("Immunization",)),
    "visits": (N_("Visits"), ("Encounter",)),
    "procedures": (N_("Treatments and procedures"), ("Procedure",)),
    "plans": (N_("Care plans"), ("CarePlan", "CareTeam", "Goal")),
}

#: Sensitivity labels, as the form's checkboxes name them: shared only when the consent names them.
SENSITIVE_NAMES = {"PSY": N_("Mental health"), "SUD": N_("Drug and alcohol use"),
                   "HIV": N_("HIV"), "SEX": N_("Sexual and reproductive health"),
                   "GDIS": N_("Genetic tests")}

#: Purposes a patient may choose, by their names in the contract (ETREAT is the emergency
#: override, never a patient's choice).
PURPOSE_CHOICES = ("TREAT", "PATRQT", "HRESCH", "HPAYMT", "HOPERAT")
PURPOSE_NAMES = {code: vocabulary.PURPOSE_NAMES[code] for code in PURPOSE_CHOICES}

#: How long a consent lasts: choice -> days (None: until the patient stops it).
PERIODS = {"1m": (N_("One month"), 31), "3m": (N_("Three months"), 92),
           "1y": (N_("One year"), 366), "open": (N_("Until I stop it"), None)}

RECORD_CATEGORY_NAMES = {
    "vital-signs": N_("Vital signs"), "laboratory": N_("Lab tests"), "surveys": N_("Surveys"),
    "conditions": N_("Health problems"), "immunizations": N_("Vaccines"),
    "medications": N_("Medicines"), "procedures": N_("Treatments and procedures"),
    "encounters": N_("Visits"), "reports": N_("Reports"), "care-plans": N_("Care plans"),
    "patient-reported": N_("Added by you"),
}

RIGHT_NAMES = {"view-records": N_("See my health records"),
               "manage-consents": N_("Choose who may see my health records"),
               "request-corrections": N_("Ask my care team to correct my health records")}
RELATIONSHIP_NAMES = {"caregiver": N_("Caregiver"), "guardian": N_("Guardian of a child")}


def unknown_codes() -> list[str]:
    """Return the portal's choices that the contract's vocabulary does not know (none, we hope)."""
    offered = {*PURPOSE_NAMES, *SENSITIVE_NAMES, *RECORD_CATEGORY_NAMES,
               *(t for _name, types in CLASS_GROUPS.values() for t in types)}
    known = {*vocabulary.PURPOSES, *vocabulary.SENSITIVE_LABELS,
             *RECORD_CATEGORIES, *vocabulary.RESOURCE_TYPES}
    return sorted(offered - known)
