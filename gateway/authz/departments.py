"""Who may ask for what: the default SMART v2 scopes of departments and of the patient portal."""
from __future__ import annotations

DEPARTMENT_BASE = "system/*.rs system/Exchange.cr system/Consent.r"

#: Department name -> the scopes its client may be granted. Unlisted names get DEPARTMENT_BASE.
DEPARTMENT_SCOPES: dict[str, str] = {
    "primary-care": DEPARTMENT_BASE + " system/*.cu",
    "cardiology": DEPARTMENT_BASE,
    # Only a department that may claim emergencies holds the break-the-glass scope, by name.
    "emergency": DEPARTMENT_BASE + " system/BreakGlass.c",
    "research": "system/Exchange.cr system/Consent.r",
}

#: The oversight team's client: the equity report only, no patient data (department-like).
OVERSIGHT_CLIENT_ID = "oversight"
OVERSIGHT_SCOPES = "system/Equity.r"

PORTAL_CLIENT_ID = "phr-portal"
PORTAL_SCOPES = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds "
                 "patient/Observation.c patient/Task.c")


def scopes_for(department: str) -> str:
    """Return the default scopes of DEPARTMENT (the oversight client's when it is that one)."""
    if department == OVERSIGHT_CLIENT_ID:
        return OVERSIGHT_SCOPES
    return DEPARTMENT_SCOPES.get(department, DEPARTMENT_BASE)
