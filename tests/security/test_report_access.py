"""Reports through the running stack's gateway: a revoked token, a token without the report scope,
an oversized or malformed body and an anonymous report by a patient are each refused with a
problem+json and change nothing (the patient's and the staff member's lists stay as they were)."""
from __future__ import annotations

import requests

from contracts.conformance.client import staff_login
from tests.support.client import demo_patient_headers
from tests.support.staff import PASSWORD, join_over_http

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Report.c"
REPORT = {"kind": "system-problem", "text": "The page would not load.", "about": {"page": "/portal"}}


def _refused(resp: requests.Response, status: int) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/problem+json")


def _mine(gateway: str, headers: dict, path: str) -> list[str]:
    listed = requests.get(gateway + path, headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    return [i["id"] for i in listed.json()["items"]]


def test_a_patients_revoked_token_and_a_token_without_the_report_scope_are_refused(stack):
    gw = stack.gateway
    _who, fresh = demo_patient_headers(stack, 0, SCOPE)
    before = _mine(gw, fresh, "/patient/v1/reports")
    _who, narrow = demo_patient_headers(stack, 0, "openid fhirUser offline_access patient/*.rs")
    _refused(requests.post(gw + "/patient/v1/reports", json=REPORT, headers=narrow, timeout=30), 403)
    creds = stack.credentials()
    from tests.support.client import patient_login
    who = creds["patients"][0]
    tokens = patient_login(gw, creds["portal"]["client_id"], creds["portal"]["redirect_uri"], who["username"],
                           who["password"], scope=SCOPE)
    revoked = requests.post(gw + "/oauth/revoke", timeout=30, data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": creds["portal"]["client_id"]})
    assert revoked.status_code == 200
    gone = {"Authorization": f"Bearer {tokens['access_token']}"}
    _refused(requests.post(gw + "/patient/v1/reports", json=REPORT, headers=gone, timeout=30), 401)
    _refused(requests.get(gw + "/patient/v1/reports", headers=gone, timeout=30), 401)
    assert _mine(gw, fresh, "/patient/v1/reports") == before


def test_an_oversized_malformed_or_anonymous_patient_report_is_refused_and_stores_nothing(stack):
    gw = stack.gateway
    _who, me = demo_patient_headers(stack, 0, SCOPE)
    before = _mine(gw, me, "/patient/v1/reports")
    _refused(requests.post(gw + "/patient/v1/reports", json={**REPORT, "text": "x" * 200_000}, headers=me,
                           timeout=30), 413)
    broken = requests.post(gw + "/patient/v1/reports", data="{not json", timeout=30,
                           headers={**me, "Content-Type": "application/json"})
    assert 400 <= broken.status_code < 500 and broken.headers["Content-Type"].startswith("application/problem+json")
    anonymous = requests.post(gw + "/patient/v1/reports", json={**REPORT, "anonymous": True}, headers=me, timeout=30)
    _refused(anonymous, 422)
    assert anonymous.json()["fields"] == ["anonymous"]
    unknown = requests.post(gw + "/patient/v1/reports", json={**REPORT, "kind": "gossip"}, headers=me, timeout=30)
    _refused(unknown, 422)
    assert _mine(gw, me, "/patient/v1/reports") == before


def test_a_staff_members_revoked_token_is_refused_and_a_clinician_cannot_triage(stack):
    gw = stack.gateway
    member = join_over_http(stack, "rep.revoked", ["clinician"], "Rev Oked", "cardiology")
    tokens = staff_login(gw, member.username, PASSWORD, member.second_factor)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.post(gw + "/staff/v1/reports", json=REPORT, headers=headers, timeout=30).status_code == 201
    for path in ("/staff/v1/reports", "/staff/v1/reports/00000000-0000-0000-0000-000000000000"):
        _refused(requests.get(gw + path, headers=headers, timeout=30), 403)  # no triage scope
    before = _mine(gw, headers, "/staff/v1/reports/mine")
    revoked = requests.post(gw + "/oauth/revoke", timeout=30, data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": "phr-console"})
    assert revoked.status_code == 200
    _refused(requests.post(gw + "/staff/v1/reports", json=REPORT, headers=headers, timeout=30), 401)
    _refused(requests.get(gw + "/staff/v1/reports/mine", headers=headers, timeout=30), 401)
    assert _mine(gw, member.headers(), "/staff/v1/reports/mine") == before
