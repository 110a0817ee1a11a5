"""Consent end to end through the gateway: a patient grants and revokes, departments ask."""
import pytest

from tests.support.client import Department, demo_departments, demo_patient_headers

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="module")
def people(stack):
    who, headers = demo_patient_headers(stack, 0, SCOPE)
    return who["patient"], headers, demo_departments(stack)


def _ask(dept: Department, patient: str, actor: str, purpose: str = "TREAT") -> dict:
    resp = dept.post("/consent/v1/decisions", json={"patient": patient, "actor": actor,
                                                    "purpose": purpose, "classes": ["Observation"]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_patient_grants_cardiology_and_revoking_stops_it_at_once(stack, people):
    import requests
    patient, me, depts = people
    created = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert created.status_code == 201, created.text
    consent = created.json()
    assert consent["created_by"] == {"kind": "patient", "id": patient}
    decision = _ask(depts["cardiology"], patient, "cardiology")
    assert decision["decision"] == "permit" and decision["consent_id"] == consent["id"]
    assert _ask(depts["research"], patient, "research")["decision"] == "deny"
    gone = requests.delete(f"{stack.gateway}/patient/v1/consents/{consent['id']}", headers=me, timeout=10)
    assert gone.status_code == 200 and gone.json()["status"]["code"] == "revoked"
    assert _ask(depts["cardiology"], patient, "cardiology")["decision"] == "deny"


def test_the_emergency_department_breaks_the_glass_for_a_limited_time(stack, people):
    patient, _me, depts = people
    resp = depts["emergency"].post("/consent/v1/break-glass",
                                   json={"patient": patient, "reason": "Unconscious on arrival"})
    assert resp.status_code == 201, resp.text
    decision = _ask(depts["emergency"], patient, "emergency", "ETREAT")
    assert decision["decision"] == "permit" and decision["break_glass_id"] == resp.json()["id"]
    refused = depts["cardiology"].post("/consent/v1/break-glass", json={"patient": patient, "reason": "x"})
    assert refused.status_code == 403
