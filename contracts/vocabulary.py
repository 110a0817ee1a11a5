"""The codes of the public contract, each with the one English message id people read for it.

Departments; purposes of use (HL7 v3 PurposeOfUse, terminology.hl7.org/ValueSet/v3-PurposeOfUse);
sensitivity labels (HL7 v3 ActCode confidentiality/sensitivity codes); resource types (FHIR R4).
Every service and the portal name a code with the message id written here and translate it
from the shared catalog (``services/common/translations``), so a patient reads one wording
for one code wherever it shows. A new code or a new wording goes here, then ``make i18n``.
"""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark MESSAGE as an English message id for the catalogs (it is translated where shown)."""
    return message


PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
LABEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RESOURCE_SYSTEM = "http://hl7.org/fhir/resource-types"

# -- departments: who may hold a consent and receive records ---------------------------------
#: A department's id: its OAuth client id and its tokens' ``dept`` claim. Which departments
#: exist is data (the directory, events on phr.directory.v1), not code.
DEPARTMENT_ID_PATTERN = r"[a-z][a-z0-9-]{1,39}"
#: What kind of department it is: clinical ones treat patients and exchange records, research
#: ones receive records for research under consent, oversight ones see reports only.
DEPARTMENT_KINDS = ("clinical", "research", "oversight")
DEPARTMENT_KIND_NAMES = {"clinical": N_("Clinical care"), "research": N_("Research"),
                         "oversight": N_("Oversight")}

# -- department staff: the people who sign in for a department -------------------------------
#: What a member of staff may do for their department: ask for records and claim emergencies
#: where the department may (clinician), answer correction requests for its patients
#: (records-officer), review break-the-glass claims and disclosures (privacy-officer), triage the
#: reports people make and watch the measures (quality), and keep its staff accounts, roles and
#: invite codes (admin). A person holds one or more of them.
STAFF_ROLES = ("clinician", "records-officer", "privacy-officer", "quality", "admin")
ROLE_NAMES = {"clinician": N_("Clinician"), "records-officer": N_("Records officer"),
              "privacy-officer": N_("Privacy officer"), "quality": N_("Quality and safety"),
              "admin": N_("Administrator")}
#: ``user/Communication.rs`` reads the department's notices (a consent it received records under
#: ended: GET /staff/v1/inbox/notices), for the clinicians who used the records and the privacy
#: officers who answer for them.
#: The SMART scopes (``user/`` context: a person acting for their department) each role's
#: token carries; a staff token holds the scopes of all its roles. ``user/BreakGlass.c`` is
#: added to a clinician's only when the department's directory entry says it may claim
#: emergencies. The services check the scope; the department is the token's ``dept`` claim and
#: the person its ``sub`` and ``fhirUser`` (``Practitioner/<id>``), kept with every action.
ROLE_SCOPES = {
    "clinician": "user/Exchange.cr user/SharingRequest.cr user/Communication.rs",
    "records-officer": "user/Task.rus",
    "privacy-officer": "user/BreakGlassReview.rsu user/AuditEvent.rs user/Measure.rs user/Communication.rs",
    "quality": "user/Report.rsu user/Measure.rs",
    "admin": "user/Staff.cruds",
}
EMERGENCY_SCOPE = "user/BreakGlass.c"

# -- reports: anyone may say "this is wrong" (the exchange service keeps them) ----------------
#: What a report is about, each pointing at its own thing: a record item (resource type + id),
#: the words of a page, a disclosure (a ledger entry), a near miss or incident (staff only), or
#: the system itself.
REPORT_KINDS = ("wrong-information", "hard-to-understand", "wrong-access", "safety", "system-problem")
REPORT_KIND_NAMES = {"wrong-information": N_("Wrong information in a record"),
                     "hard-to-understand": N_("Words that are hard to understand"),
                     "wrong-access": N_("Someone saw a record who should not have"),
                     "safety": N_("A near miss or safety incident"),
                     "system-problem": N_("A problem with the system")}
#: Kinds only staff may report: a near miss or incident happens in the work of care.
STAFF_ONLY_REPORT_KINDS = ("safety",)
#: Where a report stands, in order; each has words, never a colour alone.
REPORT_STATUSES = ("received", "looking-into-it", "acted-on", "closed")
REPORT_STATUS_NAMES = {"received": N_("Received"), "looking-into-it": N_("Looking into it"),
                       "acted-on": N_("Acted on"), "closed": N_("Closed")}
#: An anonymous staff report keeps its department only when at least this many staff belong to
#: it at that moment: in a smaller one the department alone could name the person.
ANONYMOUS_MIN_STAFF = 5
#: The longest free text a report takes, in characters.
REPORT_TEXT_MAX = 2000
#: The longest "words that were hard to understand" a report takes, in characters.
REPORT_WORDS_MAX = 500

# -- purposes of use ---------------------------------------------------------------------------
PURPOSES = ("TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PATRQT")
EMERGENCY_PURPOSE = "ETREAT"

#: The purpose as a name ("Why: Treatment").
PURPOSE_NAMES = {"TREAT": N_("Treatment"), "ETREAT": N_("Emergency treatment"),
                 "HPAYMT": N_("Payment for your care"), "HOPERAT": N_("Running the hospital"),
                 "HRESCH": N_("Research"), "PATRQT": N_("Your own request")}
#: The purpose inside a sentence spoken to the patient ("... can see your lab results to treat you").
PURPOSE_PHRASES = {"TREAT": N_("to treat you"), "ETREAT": N_("to treat you in an emergency"),
                   "HPAYMT": N_("to handle payment for your care"),
                   "HOPERAT": N_("to run the hospital"), "HRESCH": N_("for research"),
                   "PATRQT": N_("because you asked them to")}
#: The same phrases in the patient's own voice, for the consent text they agree to ("I allow ...").
PURPOSE_PHRASES_FIRST_PERSON = {
    "TREAT": N_("to treat me"), "ETREAT": N_("to treat me in an emergency"),
    "HPAYMT": N_("to handle payment for my care"), "HOPERAT": PURPOSE_PHRASES["HOPERAT"],
    "HRESCH": PURPOSE_PHRASES["HRESCH"], "PATRQT": N_("because I asked them to")}

# -- data classes: sensitivity labels and resource types ---------------------------------------
#: Sensitive classes: a department sees them only when the consent names them.
SENSITIVE_LABELS = ("PSY", "SUD", "HIV", "SEX", "GDIS")

RESOURCE_TYPES = (
    "AllergyIntolerance", "CarePlan", "CareTeam", "Claim", "Condition", "Coverage",
    "Device", "DiagnosticReport", "DocumentReference", "Encounter",
    "ExplanationOfBenefit", "FamilyMemberHistory", "Goal", "ImagingStudy", "Immunization",
    "Medication", "MedicationAdministration", "MedicationRequest", "MedicationStatement",
    "Observation", "Patient", "Procedure", "Provenance", "QuestionnaireResponse",
    "ServiceRequest", "Specimen",
)

#: Each class in words that fit inside a sentence ("... can see your lab results"); a list or a
#: title shows it with a capital first letter.
CLASS_NAMES = {
    "PSY": N_("mental health notes"), "SUD": N_("drug and alcohol treatment"),
    "HIV": N_("HIV test results and care"), "SEX": N_("sexual and reproductive health"),
    "GDIS": N_("genetic test results"),
    "AllergyIntolerance": N_("allergies"), "CarePlan": N_("care plans"),
    "CareTeam": N_("care team"), "Claim": N_("insurance bills"),
    "Condition": N_("health problems"), "Coverage": N_("insurance details"),
    "Device": N_("medical devices"), "DiagnosticReport": N_("test reports"),
    "DocumentReference": N_("documents"), "Encounter": N_("visits"),
    "ExplanationOfBenefit": N_("insurance payments"),
    "FamilyMemberHistory": N_("family health history"), "Goal": N_("health goals"),
    "ImagingStudy": N_("scans and X-rays"), "Immunization": N_("vaccines"),
    "Medication": N_("medicines"), "MedicationAdministration": N_("medicines given in hospital"),
    "MedicationRequest": N_("prescriptions"), "MedicationStatement": N_("medicine lists"),
    "Observation": N_("lab results"), "Patient": N_("name and contact details"),
    "Procedure": N_("procedures and surgeries"), "Provenance": N_("record history"),
    "QuestionnaireResponse": N_("filled-in forms"), "ServiceRequest": N_("test orders"),
    "Specimen": N_("lab samples"),
}


def is_label(code: str) -> bool:
    """Tell whether CODE names a sensitivity label rather than a resource type."""
    return code in SENSITIVE_LABELS


def known_class(code: str) -> bool:
    """Tell whether CODE is a sensitivity label or a resource type a consent may name."""
    return code in SENSITIVE_LABELS or code in RESOURCE_TYPES

