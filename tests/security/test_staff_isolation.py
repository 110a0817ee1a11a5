"""Department staff through the running stack: every staff endpoint keeps to the person's own
department, and a password alone never gives a token.

The staff sign in as people do (password, then an authenticator code; tests/support/staff.py).
The outsider holds every role, so only their department can stand between them and another
department's items: each read of one item is a 404, each answer to one is a 404 that changes
nothing, and each list leaves the items out. The endpoints are taken from the contract, so a
new staff endpoint with an id must be added here."""
from __future__ import annotations

import re
import time

import pytest
import requests
import yaml

from contracts.conformance.cli import DEFAULT_SPEC
from contracts.conformance.client import LoginError, staff_login
from tests.support.client import demo_departments, demo_patient_headers
from tests.support.staff import PASSWORD, join_over_http

ALL_ROLES = ["clinician", "records-officer", "privacy-officer", "quality", "admin"]
PATIENT_SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Task.c patient/Report.c"
#: What an outsider sends to each answering endpoint: a body the owner's department would accept.
BODIES = {
    "POST /staff/v1/break-glass-reviews/{id}": {"outcome": "justified", "note": "Looked fine."},
    "POST /staff/v1/corrections/{id}/accept": {"action": "entered-in-error"},
    "POST /staff/v1/corrections/{id}/deny": {"reason": "The record is right."},
    "PUT /staff/v1/admin/staff/{id}/roles": {"roles": ["clinician"]},
    "POST /staff/v1/admin/staff/{id}/disable": None,
    "POST /staff/v1/reports/{id}": {"status": "looking-into-it", "note": "Looking."},
}


def _staff_operations() -> dict[str, list[str]]:
    """{"with an id": ["METHOD /path", ...], "lists": [...]} of every /staff/v1 operation."""
    doc = yaml.safe_load(open(DEFAULT_SPEC))
    found = {"with an id": [], "lists": []}
    for path, item in doc["paths"].items():
        if not path.startswith("/staff/v1/"):
            continue
        for method in ("get", "post", "put", "delete", "patch"):
            if method in item:
                if "{" in path:
                    found["with an id"].append(f"{method.upper()} {path}")
                elif method == "get":
                    found["lists"].append(f"GET {path}")
    return found


#: What an item says that moves with the clock alone (how long a claim has waited).
CLOCK_FIELDS = ("waited",)


def _lasting(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in CLOCK_FIELDS}


def _until(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def _call(member_headers: dict, gateway: str, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, gateway + path, headers=member_headers, timeout=30,
                            **({"json": body} if body is not None else {}))


@pytest.fixture(scope="module")
def owned(stack) -> dict:
    """One item of every kind that takes an id, each belonging to primary care or cardiology,
    made by their own staff; {"METHOD /path": concrete path}."""
    gw = stack.gateway
    owner = join_over_http(stack, "sec.owner", ALL_ROLES, "Owner", "primary-care").headers("en")
    cardio = join_over_http(stack, "sec.cardio", ["clinician"], "Cardio", "cardiology").headers("en")
    er = join_over_http(stack, "sec.er", ["clinician"], "Er", "emergency").headers("en")
    who, patient = demo_patient_headers(stack, 1, PATIENT_SCOPE)

    asked = _call(cardio, gw, "POST", "/staff/v1/requests", {
        "patient": who["patient"], "purpose": "TREAT", "resource_types": ["Procedure"], "reason": "Check"})
    assert asked.status_code == 202, asked.text
    sharing = _call(cardio, gw, "POST", "/staff/v1/sharing-requests", {
        "patient": who["patient"], "classes": ["Procedure"], "purposes": ["TREAT"], "period": {"days": 7},
        "reason": "To plan your care."})
    assert sharing.status_code in (201, 409), sharing.text
    sharing_id = _call(cardio, gw, "GET", "/staff/v1/sharing-requests").json()["items"][0]["id"]
    claim = _call(er, gw, "POST", "/staff/v1/break-glass", {"patient": who["patient"], "reason": "Collapsed"})
    assert claim.status_code in (200, 201), claim.text
    _until(lambda: _call(owner, gw, "GET", f"/staff/v1/break-glass-reviews/{claim.json()['id']}").status_code == 200,
           "the claim in primary care's review queue")
    released = _call(er, gw, "POST", "/staff/v1/requests", {  # a release under the claim: a ledger entry
        "patient": who["patient"], "purpose": "ETREAT", "resource_types": ["Observation"], "reason": "Collapsed"})
    assert released.status_code == 202, released.text
    _until(lambda: any(i["patient"] == who["patient"] for i in
                       _call(owner, gw, "GET", "/staff/v1/disclosures").json()["items"]),
           "the release in primary care's accounting of disclosures")
    record = requests.get(gw + "/patient/v1/records", params={"category": "conditions"}, headers=patient,
                          timeout=30).json()["items"][0]
    correction = requests.post(gw + "/patient/v1/amendments", headers=patient, timeout=30, json={
        "record_id": record["id"], "what_is_wrong": "Not mine.", "correction": "Please check it."})
    assert correction.status_code == 201, correction.text
    member = next(m for m in _call(owner, gw, "GET", "/staff/v1/admin/staff").json()["items"]
                  if m["username"] != "sec.owner")
    # a patient's report goes to the custodian's quality staff; a named staff report is followed
    # under /mine only, so its reference shows nothing to anyone (an anonymous one is the reference's)
    report = requests.post(gw + "/patient/v1/reports", headers=patient, timeout=30, json={
        "kind": "wrong-information", "text": "Not mine.",
        "about": {"resource_type": "Condition", "id": record["id"].split("/")[-1]}})
    assert report.status_code == 201, report.text
    named = _call(owner, gw, "POST", "/staff/v1/reports", {"kind": "system-problem", "text": "Slow."})
    assert named.status_code == 201, named.text
    # a notice in cardiology's inbox: the patient shares, cardiology gets records, the patient stops
    shared = requests.post(gw + "/patient/v1/consents", headers=patient, timeout=30, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["CarePlan"]})
    assert shared.status_code == 201, shared.text
    got = _call(cardio, gw, "POST", "/staff/v1/requests", {
        "patient": who["patient"], "purpose": "TREAT", "resource_types": ["CarePlan"], "reason": "Plan"})
    _until(lambda: _call(cardio, gw, "GET", f"/staff/v1/requests/{got.json()['id']}").json()["status"] == "fulfilled",
           "cardiology's release")
    assert requests.delete(f"{gw}/patient/v1/consents/{shared.json()['id']}", headers=patient,
                           timeout=30).status_code == 200
    notice = _until(lambda: [n for n in _call(cardio, gw, "GET", "/staff/v1/inbox/notices").json()["items"]
                             if n["consent"]["id"] == shared.json()["id"]], "cardiology's notice")[0]

    ids = {"/staff/v1/requests/{id}": asked.json()["id"], "/staff/v1/sharing-requests/{id}": sharing_id,
           "/staff/v1/break-glass-reviews/{id}": claim.json()["id"],
           "/staff/v1/corrections/{id}": correction.json()["id"],
           "/staff/v1/admin/staff/{id}": member["id"], "/staff/v1/reports/follow/{ref}": named.json()["reference"],
           "/staff/v1/reports/{id}": report.json()["id"], "/staff/v1/inbox/notices/{id}": notice["id"]}
    made = {}
    for operation in _staff_operations()["with an id"]:
        method, path = operation.split(" ", 1)
        base = next((b for b in ids if path.startswith(b)), None)
        assert base is not None, f"{operation}: add an item of another department for it to this test"
        made[operation] = path.replace("{id}", ids[base]).replace("{ref}", ids[base])
    return {"paths": made, "owner": owner, "ids": ids, "patient": who["patient"]}


def test_every_staff_endpoint_hides_another_departments_items_from_a_person_with_every_role(stack, owned):
    gw = stack.gateway
    outsider = join_over_http(stack, "sec.outsider", ALL_ROLES, "Outsider", "research").headers("en")
    for operation, path in owned["paths"].items():
        method = operation.split(" ", 1)[0]
        before = _call(owned["owner"], gw, "GET", re.sub(r"/(accept|deny|roles|disable)$", "", path))
        resp = _call(outsider, gw, method, path, BODIES.get(operation) if method != "GET" else None)
        assert resp.status_code == 404, f"{operation}: {resp.status_code} {resp.text[:200]}"
        assert resp.headers["Content-Type"].startswith("application/problem+json"), operation
        after = _call(owned["owner"], gw, "GET", re.sub(r"/(accept|deny|roles|disable)$", "", path))
        if before.status_code == 200:  # the owner's view of the item did not change (but for the clock)
            assert _lasting(after.json()) == _lasting(before.json()), operation
    hidden = set(owned["ids"].values())
    for operation in _staff_operations()["lists"]:
        listed = _call(outsider, gw, "GET", operation.split(" ", 1)[1])
        assert listed.status_code == 200, f"{operation}: {listed.status_code}"
        shown = {str(i.get("id")) for i in listed.json().get("items", [])}
        assert not shown & hidden, f"{operation} shows another department's items"
        patients = {i.get("patient") for i in listed.json().get("items", [])}
        assert owned["patient"] not in patients, f"{operation} shows another department's patient"


def test_a_password_alone_never_gives_a_staff_token(stack):
    member = join_over_http(stack, "sec.password", ["clinician"], "Pass Word", "cardiology")
    with pytest.raises(LoginError):  # the second step refuses a wrong code: no authorization code
        staff_login(stack.gateway, member.username, PASSWORD, lambda: "000000"
                    if member.second_factor() != "000000" else "111111")
    for grant in ({"grant_type": "password", "username": member.username, "password": PASSWORD},
                  {"grant_type": "client_credentials"}):
        resp = requests.post(stack.gateway + "/oauth/token", timeout=30,
                             data={**grant, "client_id": "phr-console", "scope": "user/Exchange.cr"})
        assert resp.status_code in (400, 401) and "access_token" not in resp.text, resp.text
    assert staff_login(stack.gateway, member.username, PASSWORD, member.second_factor)["access_token"]
