"""Ids and free text have bounds (contracts.limits): a longer value is a 422 naming the field,
never a row whose event no broker takes. Through the gateway, as a client."""
import pytest
import requests

from contracts.limits import ID_MAX, REASON_MAX
from tests.support.client import demo_departments, demo_patient_headers

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


@pytest.fixture(scope="module")
def people(stack):
    who, headers = demo_patient_headers(stack, 2, SCOPE)
    return who["patient"], headers, demo_departments(stack)


def _refused(resp: requests.Response, field: str) -> dict:
    assert resp.status_code == 422, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["fields"] == [field]
    assert "x" * 100 not in resp.text  # the long value is not echoed back
    return problem


def test_a_consent_for_a_caregiver_whose_id_is_too_long_is_refused_naming_the_field(stack, people):
    _patient, me, _depts = people
    body = {"grantee": {"kind": "proxy", "id": "x" * 8000}, "purposes": ["TREAT"], "classes": ["Observation"]}
    resp = requests.post(f"{stack.gateway}/patient/v1/consents", headers={**me, "Accept-Language": "es"},
                         json=body, timeout=10)
    problem = _refused(resp, "grantee.id")
    assert f"como máximo {ID_MAX} caracteres" in problem["detail"]
    listed = requests.get(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10).json()["items"]
    assert all(len(c["grantee"]["id"]) <= ID_MAX for c in listed)


def test_a_break_the_glass_reason_longer_than_the_bound_is_refused_naming_the_field(stack, people):
    patient, _me, depts = people
    resp = depts["emergency"].post("/consent/v1/break-glass",
                                   json={"patient": patient, "reason": "x" * (REASON_MAX + 1)})
    problem = _refused(resp, "reason")
    assert f"at most {REASON_MAX} characters" in problem["detail"]


def test_a_break_the_glass_claim_for_a_patient_id_longer_than_a_fhir_id_is_refused(stack, people):
    _patient, _me, depts = people
    resp = depts["emergency"].post("/consent/v1/break-glass",
                                   json={"patient": "x" * 5000, "reason": "Unconscious on arrival"})
    _refused(resp, "patient")


def test_a_decision_about_a_patient_id_longer_than_a_fhir_id_is_refused(stack, people):
    _patient, _me, depts = people
    resp = depts["cardiology"].post("/consent/v1/decisions", json={
        "patient": "x" * 5000, "purpose": "TREAT", "classes": ["Observation"]})
    _refused(resp, "patient")
