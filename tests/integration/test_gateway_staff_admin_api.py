"""The staff admin API the gateway serves itself (gateway/admin/staff_api.py): a department's
admins list, invite, change roles and disable their own department's staff, with real tokens
from the console's sign-in; the platform's administrators invite a department's first admin.
Every refusal is a problem that changes nothing. On SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from gateway import schema, storage
from gateway.accounts.staff_store import StaffStore
from gateway.directory.store import DirectoryStore
from services.common import bodies
from tests.support.gateway import admin_token, bearer, department, department_token, make_patient, sign_in
from tests.support.staff import (PASSWORD, console_directory, gateway_staff_store, password_step,
                                 person, refresh_staff, staff_tokens)

LIST, INVITES = "/staff/v1/admin/staff", "/staff/v1/admin/invites"


@pytest.fixture
def gateway_config(gateway_config, database_url):
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def clock(monkeypatch):
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def directory(engine) -> DirectoryStore:
    return console_directory(engine)


@pytest.fixture
def staff(engine, directory, clock) -> StaffStore:
    return gateway_staff_store(engine)


@pytest.fixture
def admin(client, staff, directory, clock):
    """Cardiology's admin, signed in: (account, access token)."""
    account, secret, _codes = person(staff, directory, clock, username="ada.admin",
                                     display_name="Ada Admin", roles=("admin",))
    return account, staff_tokens(client, account.username, secret, clock)["access_token"]


@pytest.fixture
def colleague(staff, directory, clock):
    """A clinician of cardiology (enrolled, not signed in)."""
    return person(staff, directory, clock, username="dr.ruiz", display_name="Dr. Ruiz")[0]


def state(engine) -> dict:
    """What the calls may change: accounts, invites and the audit trail."""
    with engine.connect() as conn:
        return {name: [dict(r) for r in conn.execute(sa.select(table)).mappings()]
                for name, table in (("accounts", schema.staff_accounts), ("invites", schema.staff_invites),
                                    ("audit", schema.staff_audit))}


def calls(colleague_id: str):
    return [("GET", LIST, None), ("POST", INVITES, {"roles": ["clinician"], "display_name": "Dr. New"}),
            ("PUT", f"/staff/v1/admin/staff/{colleague_id}/roles", {"roles": ["records-officer"]}),
            ("POST", f"/staff/v1/admin/staff/{colleague_id}/disable", None)]


def call(client, method, path, body=None, token=None, **headers):
    if token:
        headers.update(bearer(token))
    return client.open(path, method=method, json=body, headers=headers)


def problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    return resp.json


# -- what an admin does ---------------------------------------------------------------------------------
def test_an_admin_lists_their_departments_staff_in_their_language(client, admin, colleague, staff, directory, clock):
    person(staff, directory, clock, department="emergency", username="dr.vega")  # another department's
    resp = call(client, "GET", LIST, token=admin[1], **{"Accept-Language": "es"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.json["department"] == "cardiology"
    assert [m["username"] for m in resp.json["items"]] == ["ada.admin", "dr.ruiz"]
    ruiz = resp.json["items"][1]
    assert ruiz["roles"] == [{"code": "clinician", "display": "Profesional clínico"}]
    assert ruiz["status"]["code"] == "active" and ruiz["status"]["status_text"] == "Activo"
    assert ruiz["display_name"] == "Dr. Ruiz" and "password_hash" not in ruiz and "totp_secret" not in ruiz


def test_an_admin_invites_a_person_who_makes_an_account_with_the_code(client, admin, staff, directory):
    resp = call(client, "POST", INVITES, {"roles": ["records-officer", "clinician"],
                                          "display_name": "Dr. Paz"}, admin[1])
    assert resp.status_code == 201, resp.json
    assert [r["code"] for r in resp.json["roles"]] == ["clinician", "records-officer"]
    assert resp.json["department"] == "cardiology" and resp.json["expires"]["display"]
    enrolment = staff.redeem_invite(resp.json["invite_code"], "dr.paz", PASSWORD, directory.active)
    assert enrolment.account.department == "cardiology" and enrolment.account.status == "pending"
    listed = call(client, "GET", LIST, token=admin[1]).json["items"]
    assert {"code": "pending", "status_text": "Has not set up the second step yet"} in [m["status"] for m in listed]


def test_an_admin_changes_roles_and_the_persons_tokens_end(client, admin, staff, directory, clock):
    account, secret, _codes = person(staff, directory, clock, username="dr.sol")
    tokens = staff_tokens(client, account.username, secret, clock)
    resp = call(client, "PUT", f"/staff/v1/admin/staff/{account.id}/roles",
                {"roles": ["privacy-officer"]}, admin[1])
    assert resp.status_code == 200 and [r["code"] for r in resp.json["roles"]] == ["privacy-officer"]
    assert refresh_staff(client, tokens["refresh_token"]).status_code == 400
    assert call(client, "GET", "/exchange/v1/requests/x", token=tokens["access_token"]).status_code == 401


def test_an_admin_disables_an_account_which_then_cannot_sign_in(client, admin, colleague, clock):
    resp = call(client, "POST", f"/staff/v1/admin/staff/{colleague.id}/disable", token=admin[1])
    assert resp.status_code == 200 and resp.json["status"]["code"] == "disabled"
    again = call(client, "POST", f"/staff/v1/admin/staff/{colleague.id}/disable", {}, admin[1])
    assert again.status_code == 200
    page, _verifier = password_step(client, colleague.username)
    assert page.status_code == 403


def test_an_admin_cannot_disable_themselves_or_drop_their_own_admin_role(client, engine, admin):
    before = state(engine)
    problem(call(client, "POST", f"/staff/v1/admin/staff/{admin[0].id}/disable", token=admin[1]), 409)
    problem(call(client, "PUT", f"/staff/v1/admin/staff/{admin[0].id}/roles", {"roles": ["clinician"]},
                 admin[1]), 409)
    assert state(engine) == before


# -- refusals ---------------------------------------------------------------------------------------------
def test_without_a_token_every_call_is_a_401_that_changes_nothing(client, engine, admin, colleague):
    before = state(engine)
    for method, path, body in calls(colleague.id):
        problem(call(client, method, path, body), 401)
    assert state(engine) == before


def test_a_patients_a_departments_and_a_clinicians_token_are_403s_that_change_nothing(
        client, engine, admin, colleague, staff, directory, clock):
    make_patient(engine)
    patient = sign_in(client, engine)["access_token"]
    dept = department_token(client, department(engine, "wildcards", scopes="system/*.cruds"))
    clinician, secret, _codes = person(staff, directory, clock, username="dr.lee")
    clinician_token = staff_tokens(client, clinician.username, secret, clock)["access_token"]
    before = state(engine)
    for token in (patient, dept, clinician_token):
        for method, path, body in calls(colleague.id):
            problem(call(client, method, path, body, token), 403)
    assert state(engine) == before


def test_another_departments_staff_is_a_404_that_changes_nothing(client, engine, admin, staff, directory, clock):
    other = person(staff, directory, clock, department="emergency", username="dr.vega")[0]
    before = state(engine)
    problem(call(client, "PUT", f"/staff/v1/admin/staff/{other.id}/roles", {"roles": ["admin"]}, admin[1]), 404)
    problem(call(client, "POST", f"/staff/v1/admin/staff/{other.id}/disable", token=admin[1]), 404)
    problem(call(client, "POST", "/staff/v1/admin/staff/no-such-id/disable", token=admin[1]), 404)
    assert state(engine) == before


@pytest.mark.parametrize("body, status", [
    ({"roles": ["surgeon"], "display_name": "X"}, 422),  # unknown role
    ({"roles": [], "display_name": "X"}, 422),
    ({"roles": ["clinician", "clinician"], "display_name": "X"}, 422),
    ({"roles": ["clinician"], "display_name": "   "}, 422),
    ({"roles": ["clinician"], "display_name": "X" * 81}, 422),
    ({"roles": ["clinician"], "display_name": "X", "extra": 1}, 422),  # unknown field
    ({"roles": "clinician", "display_name": "X"}, 422),
    (["clinician"], 422),  # not an object
    ({"roles": ["clinician"], "display_name": "X" * (bodies.SMALL + 1)}, 413),
])
def test_malformed_and_oversized_invites_are_4xx_problems_that_change_nothing(client, engine, admin, body, status):
    before = state(engine)
    problem(call(client, "POST", INVITES, body, admin[1]), status)
    assert state(engine) == before


def test_a_body_that_is_not_json_or_an_unknown_role_on_a_role_change_changes_nothing(client, engine, admin, colleague):
    before = state(engine)
    path = f"/staff/v1/admin/staff/{colleague.id}/roles"
    problem(client.put(path, data="{roles", headers={**bearer(admin[1]), "Content-Type": "application/json"}), 422)
    problem(call(client, "PUT", path, {"roles": ["owner"]}, admin[1]), 422)
    problem(call(client, "POST", f"/staff/v1/admin/staff/{colleague.id}/disable", {"why": "x"}, admin[1]), 422)
    assert state(engine) == before


def test_a_disabled_admins_token_is_refused(client, engine, admin, staff, directory):
    from gateway.accounts.staff import PHR_ADMIN
    staff.disable(admin[0].id, PHR_ADMIN, directory.active)
    problem(call(client, "GET", LIST, token=admin[1]), 401)


# -- the platform's administrators ----------------------------------------------------------------------
def test_the_platform_administrators_invite_a_departments_first_admin(client, engine, staff, directory):
    token = admin_token(client, engine)
    resp = call(client, "POST", "/admin/v1/departments/primary-care/invites",
                {"roles": ["admin"], "display_name": "Pat Admin"}, token)
    assert resp.status_code == 201, resp.json
    enrolment = staff.redeem_invite(resp.json["invite_code"], "pat.admin", PASSWORD, directory.active)
    assert enrolment.account.department == "primary-care" and enrolment.account.roles == ("admin",)
    with engine.connect() as conn:
        audit = conn.execute(sa.select(schema.staff_audit.c.actor, schema.staff_audit.c.action)
                             .where(schema.staff_audit.c.department == "primary-care")).all()
    assert ("phr-admin", "invited") in [tuple(r) for r in audit]


def test_the_first_invite_needs_the_admin_scope_and_a_known_active_department(client, engine, admin, directory):
    token = admin_token(client, engine)
    body = {"roles": ["admin"], "display_name": "Pat Admin"}
    before = state(engine)
    problem(call(client, "POST", "/admin/v1/departments/primary-care/invites", body), 401)
    problem(call(client, "POST", "/admin/v1/departments/primary-care/invites", body, admin[1]), 403)
    problem(call(client, "POST", "/admin/v1/departments/nowhere/invites", body, token), 404)
    problem(call(client, "POST", "/admin/v1/departments/primary-care/invites", {"roles": ["x"]}, token), 422)
    directory.disable("primary-care", "Closed.")
    problem(call(client, "POST", "/admin/v1/departments/primary-care/invites", body, token), 409)
    assert state(engine) == before


def test_the_proxy_does_not_forward_the_staff_admin_api(client, upstream, admin):
    problem(call(client, "GET", "/staff/v1/admin/unknown", token=admin[1]), 404)
    assert upstream.requests == []


def test_a_staff_token_is_refused_once_its_department_is_disabled(client, admin, directory):
    directory.disable("cardiology", "Closed.")
    problem(call(client, "GET", LIST, token=admin[1]), 401)
