"""A caregiver does only what the patient allowed: seeing a record is not asking to correct it.

Filing a correction request (POST /patient/v1/amendments, a FHIR Task to the custodian) needs
patient/Task.c, which a caregiver's token carries only under the right request-corrections;
the gateway and the records service both check it.
"""
from __future__ import annotations

import uuid

import requests

from tests.support.caregivers import caregiver
from tests.support.client import PORTAL_SCOPE, Department, demo_patient_headers


PATIENT_SCOPE = PORTAL_SCOPE + " patient/Observation.c patient/Task.c"


def _home_reading(stack) -> tuple[str, dict]:
    """Demo patient 2 adds a weight to their record; return its id and the patient's headers."""
    _who, patient = demo_patient_headers(stack, 2, PATIENT_SCOPE)
    entry = requests.post(f"{stack.gateway}/patient/v1/entries", headers=patient, timeout=10,
                          json={"kind": "weight", "value": 70, "unit": "kg"})
    assert entry.status_code == 201, entry.text
    return entry.json()["id"], patient


def _ask(base: str, headers: dict, record: str, note: str) -> requests.Response:
    return requests.post(f"{base}/patient/v1/amendments", headers=headers, timeout=10, json={
        "record_id": record, "what_is_wrong": note, "correction": "It was 68 kg."})


def test_a_view_only_caregiver_cannot_ask_for_a_correction_at_the_gateway_or_the_records_service(stack):
    _patient, _grant, tokens = caregiver(stack, 2, ["view-records"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept-Language": "es"}
    (record, _patient), note = _home_reading(stack), f"wrong {uuid.uuid4().hex}"
    for base in (stack.gateway, stack.url("records")):
        refused = _ask(base, headers, record, note)
        assert refused.status_code == 403, (base, refused.text)
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["detail"] == "El paciente no le ha dado permiso para hacer esto."
        assert problem["next_step"] == "Pida al paciente que le dé este permiso o que lo haga por su cuenta."
    listed = requests.get(f"{stack.gateway}/patient/v1/amendments", headers=headers, timeout=10)
    assert listed.status_code == 200 and note not in listed.text


def test_a_caregiver_with_the_right_to_ask_for_corrections_and_the_patient_both_can(stack):
    _patient, grant, tokens = caregiver(stack, 2, ["view-records", "request-corrections"])
    assert "request-corrections" in [r["code"] for r in grant["rights"]]
    assert "ask your care team to correct them" in grant["summary"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    record, patient = _home_reading(stack)
    asked = _ask(stack.gateway, headers, record, "It was 68 kg.")
    assert asked.status_code == 201, asked.text
    asked = _ask(stack.gateway, patient, record, "It was 68 kg.")
    assert asked.status_code == 201, asked.text


def test_a_caregivers_token_reads_over_fhir_only_what_the_patient_gave_and_stops_with_the_grant(stack):
    """The patient-scoped FHIR API takes a caregiver's token as /patient/v1 does: their patient's
    compartment only, only under a right to see records, and not once the patient stops it."""
    creds = stack.credentials()
    patient_id, other_id = creds["patients"][2]["patient"], creds["patients"][0]["patient"]
    dept = Department(stack.gateway, **{k: creds["departments"]["primary-care"][k]
                                        for k in ("client_id", "client_secret")})
    theirs = dept.get("/fhir/Observation", params={"patient": other_id, "_count": 1}).json()["entry"][0]

    patient, grant, tokens = caregiver(stack, 2, ["view-records"])
    viewer = {"Authorization": f"Bearer {tokens['access_token']}"}
    own = requests.get(f"{stack.gateway}/fhir/Observation", params={"_count": 5}, headers=viewer, timeout=10)
    assert own.status_code == 200, own.text
    assert own.json()["total"] > 0
    assert {e["resource"]["subject"]["reference"] for e in own.json()["entry"]} == {f"Patient/{patient_id}"}
    others = requests.get(f"{stack.gateway}/fhir/Observation", params={"patient": other_id},
                          headers=viewer, timeout=10)
    assert others.status_code == 200 and others.json()["total"] == 0
    read = requests.get(f"{stack.gateway}/fhir/Observation/{theirs['resource']['id']}", headers=viewer, timeout=10)
    assert read.status_code == 404 and read.headers["Content-Type"].startswith("application/fhir+json")

    # A caregiver who may only choose who sees the record does not read it over FHIR either.
    _patient, _grant, consents_only = caregiver(stack, 2, ["manage-consents"])
    chooser = {"Authorization": f"Bearer {consents_only['access_token']}"}
    for path in ("/fhir/Observation", f"/fhir/Patient/{patient_id}"):
        refused = requests.get(stack.gateway + path, headers=chooser, timeout=10)
        assert refused.status_code == 403, (path, refused.text)

    stopped = requests.delete(f"{stack.gateway}/patient/v1/proxies/{grant['id']}", headers=patient, timeout=10)
    assert stopped.status_code == 200, stopped.text
    after = requests.get(f"{stack.gateway}/fhir/Observation", headers=viewer, timeout=10)
    assert after.status_code == 401
