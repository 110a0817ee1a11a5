"""A demo patient reads, adds to and asks to correct their record through the gateway."""
import pytest

from tests.support.client import Department, patient_login

SCOPE = "openid fhirUser offline_access patient/*.rs patient/Observation.c patient/Task.c"


@pytest.fixture(scope="module")
def spanish_speaker(stack):
    """A signed-in demo patient whose preferred language is Spanish: (patient, headers)."""
    creds = stack.credentials()
    patient = next(p for p in creds["patients"] if p["language"] == "es")
    token = patient_login(stack.gateway, creds["portal"]["client_id"], creds["portal"]["redirect_uri"],
                          patient["username"], patient["password"], scope=SCOPE)
    return patient, {"Authorization": f"Bearer {token['access_token']}"}


def _department(stack, name="primary-care"):
    creds = stack.credentials()["departments"][name]
    return Department(stack.gateway, creds["client_id"], creds["client_secret"])


def test_a_patient_reads_their_record_in_spanish_in_pages_through_the_gateway(stack, spanish_speaker):
    import requests

    patient, headers = spanish_speaker
    me = requests.get(f"{stack.gateway}/patient/v1/me", headers=headers, timeout=10)
    assert me.status_code == 200 and me.headers["Content-Language"] == "es"
    assert me.json()["id"] == patient["patient"] and me.json()["proxies"] == []
    page = requests.get(f"{stack.gateway}/patient/v1/records", headers=headers, timeout=10)
    assert page.status_code == 200 and len(page.json()["items"]) == 20 and page.json()["next"]
    assert all(i["status"]["status_text"] and i["date"]["display"] for i in page.json()["items"])
    again = requests.get(f"{stack.gateway}/patient/v1/records",
                         headers={**headers, "If-None-Match": page.headers["ETag"]}, timeout=10)
    assert again.status_code == 304


def test_an_entry_and_a_correction_request_reach_the_custodian_department(stack, spanish_speaker):
    import requests

    patient, headers = spanish_speaker
    entry = requests.post(f"{stack.gateway}/patient/v1/entries", headers=headers, timeout=10,
                          json={"kind": "blood-pressure", "systolic": 131, "diastolic": 86})
    assert entry.status_code == 201, entry.text
    assert entry.json()["value"]["display"] == "131 sobre 86 milímetros de mercurio"
    obs = _department(stack).get(f"/fhir/Observation/{entry.json()['id']}")
    assert obs.status_code == 200 and obs.json()["performer"] == [{"reference": f"Patient/{patient['patient']}"}]
    assert obs.json()["meta"]["tag"][0]["code"] == "patient-reported"

    asked = requests.post(f"{stack.gateway}/patient/v1/amendments", headers=headers, timeout=10, json={
        "record_id": entry.json()["id"], "what_is_wrong": "Escribí mal la presión.",
        "correction": "Era 121 sobre 86."})
    assert asked.status_code == 201, asked.text
    task = _department(stack).get(f"/fhir/Task/{asked.json()['id']}")
    assert task.status_code == 200 and task.json()["status"] == "requested"
    listed = requests.get(f"{stack.gateway}/patient/v1/amendments", headers=headers, timeout=10).json()
    assert listed["items"][0]["status"]["status_text"] == "Enviado. Esperando revisión."


def test_a_department_token_is_refused_on_the_patient_api(stack):
    resp = _department(stack).get("/patient/v1/records")
    assert resp.status_code == 403 and resp.headers["Content-Type"].startswith("application/problem+json")
