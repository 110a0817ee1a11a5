"""Who may ask for what: the SMART v2 scopes of a department's client, worked out from its
entry in the directory (its kind and what it may do), and those of the portal and the
administrators' client.

A department's scopes are never written by hand: registering or changing its entry
(gateway/directory/store.py) sets them from ``department_scopes``.
"""
from __future__ import annotations

from contracts.vocabulary import DEPARTMENT_KINDS, EMERGENCY_SCOPE, ROLE_SCOPES, STAFF_ROLES

#: What every clinical department may do: read and search what it holds, ask for exchanges,
#: ask consent for decisions, subscribe to a patient's new records (FHIR Subscription: create
#: and delete here, read and search under system/*.rs; notifications only under consent).
CLINICAL = "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd"
#: Adding, changing and deleting FHIR records (a department whose entry says may_write_records;
#: records lets only a resource's custodian delete it).
WRITE = "system/*.cud"
#: Breaking the glass: a scope no wildcard covers (services/common/smart.py NAMED_ONLY), held
#: only by a department whose entry says may_claim_emergencies.
BREAK_GLASS = "system/BreakGlass.c"
#: Research receives records under consent but holds none of its own.
RESEARCH = "system/Exchange.cr system/Consent.r"
#: Oversight sees the equity report only, no patient data.
OVERSIGHT = "system/Equity.r"

PORTAL_CLIENT_ID = "phr-portal"
PORTAL_SCOPES = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds "
                 "patient/Observation.c patient/Task.c patient/Report.c patient/Communication.u")

#: The directory's administrators: register, read, change and list departments. Its context,
#: ``admin``, is none of SMART's (patient, user, system), so no wildcard scope can cover it
#: (services.common.smart parses only those three): a client holds it only by this exact name.
ADMIN_CLIENT_ID = "phr-admin"
ADMIN_SCOPE = "admin/Departments.crus"


#: The staff console (gateway/portal/console.py): a public first-party client, authorization
#: code + PKCE S256, for department staff only. It may ask for every role's scopes; a token
#: gets only those of its person's roles (staff_scopes).
CONSOLE_CLIENT_ID = "phr-console"
STAFF_BASE_SCOPES = "openid fhirUser offline_access user/Report.cr"  # anyone may report a problem
CONSOLE_SCOPES = " ".join(dict.fromkeys(  # roles share scopes (user/Measure.rs): name each once
    " ".join([STAFF_BASE_SCOPES, *(ROLE_SCOPES[role] for role in STAFF_ROLES), EMERGENCY_SCOPE]).split()))


def staff_scopes(roles, may_claim_emergencies: bool) -> str:
    """The most a member of staff's token may carry: the scopes of each of ROLES
    (contracts.vocabulary.ROLE_SCOPES), and the emergency scope for a clinician of a department
    whose entry says it may claim emergencies."""
    scopes = [STAFF_BASE_SCOPES, *(ROLE_SCOPES[role] for role in STAFF_ROLES if role in roles)]
    if may_claim_emergencies and "clinician" in roles:
        scopes.append(EMERGENCY_SCOPE)
    return " ".join(dict.fromkeys(" ".join(scopes).split()))


def department_scopes(kind: str, may_write_records: bool = False,
                      may_claim_emergencies: bool = False) -> str:
    """Return the scopes of a department of KIND with these rights (space-separated).

    Only a clinical department may write records or break the glass; the others' flags are
    refused when the entry is registered (contracts/schemas/directory.py) and ignored here.
    """
    if kind == "oversight":
        return OVERSIGHT
    if kind == "research":
        return RESEARCH
    if kind != "clinical":
        raise ValueError(f"unknown department kind {kind!r}")
    scopes = CLINICAL
    if may_write_records:
        scopes += " " + WRITE
    if may_claim_emergencies:
        scopes += " " + BREAK_GLASS
    return scopes


def supported_scopes() -> list[str]:
    """Every scope a client of this server may be given, sorted: each kind's with every right,
    the portal's and the administrators'."""
    scopes = set(PORTAL_SCOPES.split()) | set(CONSOLE_SCOPES.split()) | {ADMIN_SCOPE}
    for kind in DEPARTMENT_KINDS:
        scopes.update(department_scopes(kind, True, True).split())
    return sorted(scopes)
