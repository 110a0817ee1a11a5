"""Break-the-glass and decisions on the running stack, over real HTTP.

The demo's second patient holds a SEX-labelled Procedure; only this module breaks the glass
for her, as the emergency department.
"""

import pytest
import requests

from tests.support.client import demo_departments, demo_patient_headers

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"
SENSITIVE = {"PSY", "SUD", "HIV", "SEX", "GDIS"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def people(stack):
    who, headers = demo_patient_headers(stack, 1, SCOPE)
    return who["patient"], headers, demo_departments(stack)


def _labels(resource: dict) -> set[str]:
    return {c.get("code") for c in (resource.get("meta") or {}).get("security") or []}


def _claim(dept, patient: str, **extra) -> requests.Response:
    return dept.post("/consent/v1/break-glass", json={"patient": patient, "reason": "Unconscious on arrival",
                                                      **extra})


def test_break_the_glass_does_not_release_the_sensitive_procedure_the_patients_consent_withholds(stack, people):
    patient, me, depts = people
    emergency = depts["emergency"]
    consent = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "emergency", "purposes": ["ETREAT"], "classes": ["Procedure"]})
    assert consent.status_code == 201, consent.text
    try:
        assert _claim(emergency, patient).status_code in (200, 201)
        asked = emergency.post("/exchange/v1/requests", json={
            "patient": patient, "purpose": "ETREAT", "resource_types": ["Procedure", "Condition"],
            "reason": "Unconscious on arrival"})
        assert asked.status_code == 202, asked.text
        status = emergency.wait_until_done(asked.json()["id"], timeout=90.0)
        assert status["status"] == "fulfilled", status
        assert status["consent"]["basis"] == "break-glass"
        assert "SEX" in status["redacted"]["labels"] and status["redacted"]["count"] >= 1, status["redacted"]
        bundle = emergency.get(f"/exchange/v1/requests/{status['id']}/bundle")
        assert bundle.status_code == 200, bundle.text
        entries = bundle.json()["entry"]
        assert entries and not any(_labels(e["resource"]) & SENSITIVE for e in entries)
    finally:
        requests.delete(f"{stack.gateway}/patient/v1/consents/{consent.json()['id']}", headers=me, timeout=10)


@pytest.mark.parametrize("name", ["primary-care", "cardiology", "research"])
def test_a_department_without_the_break_the_glass_scope_is_refused(stack, people, name):
    patient, _me, depts = people
    resp = _claim(depts[name], patient)
    assert resp.status_code == 403 and resp.headers["Content-Type"].startswith(PROBLEM), resp.text
    decision = depts[name].post("/consent/v1/decisions", json={  # and it holds no emergency grant
        "patient": patient, "purpose": "ETREAT", "classes": ["Condition"]})
    assert decision.status_code == 200 and decision.json()["decision"] == "deny"


def test_a_claim_longer_than_four_hours_is_refused_naming_minutes(stack, people):
    patient, _me, depts = people
    resp = _claim(depts["emergency"], patient, minutes=241)
    assert resp.status_code == 422 and resp.json()["fields"] == ["minutes"]


def test_a_second_claim_while_one_is_in_force_answers_the_same_grant(stack, people):
    patient, _me, depts = people
    first = _claim(depts["emergency"], patient)
    assert first.status_code in (200, 201), first.text
    again = _claim(depts["emergency"], patient, sensitive=[{"label": "SEX", "reason": "Abdominal pain"}])
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and "SEX" not in {s["label"] for s in again.json()["sensitive"]}


@pytest.mark.parametrize("where", ["gateway", "consent"])
def test_a_department_cannot_ask_whether_another_holds_a_consent(stack, people, where):
    patient, me, depts = people
    consent = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "emergency", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert consent.status_code == 201, consent.text
    research = depts["research"]
    url = (stack.gateway if where == "gateway" else stack.url("consent")) + "/consent/v1/decisions"
    try:
        answers = [research.session.post(url, timeout=10, json={
            "patient": pid, "actor": "emergency", "purpose": "TREAT", "classes": ["Observation"]})
            for pid in (patient, "no-such-patient")]
        for resp in answers:
            assert resp.status_code == 403 and resp.headers["Content-Type"].startswith(PROBLEM), resp.text
            assert "consent_id" not in resp.text and consent.json()["id"] not in resp.text
        strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
        assert strip(answers[0]) == strip(answers[1])
        own = research.session.post(url, timeout=10, json={
            "patient": patient, "actor": "research", "purpose": "TREAT", "classes": ["Observation"]})
        assert own.status_code == 200 and own.json()["decision"] == "deny"
    finally:
        requests.delete(f"{stack.gateway}/patient/v1/consents/{consent.json()['id']}", headers=me, timeout=10)
