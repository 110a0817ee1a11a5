"""A department's client gets its scopes from its directory entry (its kind and rights), and no
wildcard scope ever covers the administrators' scope."""
from __future__ import annotations

import pytest

from gateway.authz.departments import (ADMIN_SCOPE, CONSOLE_SCOPES, PORTAL_SCOPES, department_scopes,
                                       supported_scopes)
from services.common import smart
from tests.support.directory import DEMO_DEPARTMENTS

#: What the demo's departments and the oversight client held when departments were code
#: (gateway/authz/departments.py's table before the directory): unchanged, byte for byte, but
#: for writing, which covers deleting what a department holds since gateway migration 0017, and
#: for a clinical department's subscriptions (system/Subscription.cd) since gateway migration 0018.
BEFORE = {"primary-care": "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd system/*.cud",
          "cardiology": "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd",
          "emergency": "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd system/BreakGlass.c",
          "research": "system/Exchange.cr system/Consent.r",
          "oversight": "system/Equity.r"}


@pytest.mark.parametrize("entry", DEMO_DEPARTMENTS, ids=[d["department"] for d in DEMO_DEPARTMENTS])
def test_the_demo_departments_get_the_scopes_they_had_before_the_directory(entry):
    scopes = department_scopes(entry["kind"], entry["may_write_records"], entry["may_claim_emergencies"])
    assert scopes == BEFORE[entry["department"]]


def test_only_a_clinical_department_gets_writing_or_the_break_the_glass_scope():
    assert department_scopes("clinical", True, True).split()[-2:] == ["system/*.cud", "system/BreakGlass.c"]
    assert department_scopes("research", True, True) == BEFORE["research"]
    assert department_scopes("oversight", True, True) == BEFORE["oversight"]
    with pytest.raises(ValueError):
        department_scopes("billing")


def test_discovery_lists_every_scope_any_client_may_be_given():
    given = {*PORTAL_SCOPES.split(), *CONSOLE_SCOPES.split(), ADMIN_SCOPE,
             *(s for v in BEFORE.values() for s in v.split())}
    assert set(supported_scopes()) == given and supported_scopes() == sorted(given)


WILDCARDS = ["system/*.*", "system/*.cruds", "system/*.write", "system/*.read", "user/*.*", "patient/*.*",
             "*/*.*", "admin/*.*", "admin/*.cruds", "admin/Departments.*", "*"]


@pytest.mark.parametrize("wildcard", WILDCARDS)
def test_no_wildcard_scope_covers_the_admin_scope(wildcard):
    assert smart.within(ADMIN_SCOPE, wildcard) == []
    assert smart.within(ADMIN_SCOPE, " ".join(WILDCARDS)) == []
    context, _, rest = ADMIN_SCOPE.partition("/")
    resource, _, interactions = rest.partition(".")
    assert not smart.allows(" ".join(WILDCARDS), context, resource, interactions)


def test_only_the_admin_scope_by_its_exact_name_is_granted():
    assert smart.within(ADMIN_SCOPE, ADMIN_SCOPE) == [ADMIN_SCOPE]
    assert smart.within("admin/Departments.r", ADMIN_SCOPE) == []  # not a SMART scope: no part of it
    assert smart.parse(ADMIN_SCOPE) is None  # outside SMART's contexts, so no wildcard can reach it


def test_a_member_of_staff_gets_the_scopes_of_their_roles_and_the_emergency_one_only_as_a_clinician_where_the_department_may():
    from contracts.vocabulary import EMERGENCY_SCOPE, ROLE_SCOPES
    from gateway.authz.departments import staff_scopes
    assert EMERGENCY_SCOPE in staff_scopes(("clinician",), True).split()
    assert EMERGENCY_SCOPE not in staff_scopes(("clinician",), False).split()
    assert EMERGENCY_SCOPE not in staff_scopes(("privacy-officer", "admin"), True).split()
    assert set(staff_scopes(("records-officer",), True).split()) == {
        "openid", "fhirUser", "offline_access", "user/Report.cr", *ROLE_SCOPES["records-officer"].split()}
    assert set(staff_scopes(("clinician",), True).split()) <= set(CONSOLE_SCOPES.split())
