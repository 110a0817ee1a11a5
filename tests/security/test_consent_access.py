"""A patient touches only their own consents; each route needs the right kind of token."""
import pytest


@pytest.fixture
def client(service_apps):
    """The consent service's test client, on a SQLite file and the real clock."""
    return service_apps.consent().client


def _patient(mint, pid, scope="patient/Consent.cruds", **claims):
    return mint.patient(pid, scope=scope, **claims)


def _grant(client, headers):
    resp = client.post("/patient/v1/consents", headers=headers, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation", "HIV"]})
    assert resp.status_code == 201
    return resp.get_json()["id"]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_patient_gets_404_on_another_patients_consent_and_learns_nothing(client, mint, method):
    theirs = _grant(client, _patient(mint, "pat-b"))
    resp = getattr(client, method)(f"/patient/v1/consents/{theirs}", headers=_patient(mint, "pat-a"))
    assert resp.status_code == 404
    text = resp.get_data(as_text=True)
    assert "cardiology" not in text.lower() and "HIV" not in text and "pat-b" not in text
    still = client.get(f"/patient/v1/consents/{theirs}", headers=_patient(mint, "pat-b")).get_json()
    assert still["status"]["code"] == "active"


def test_an_unknown_consent_and_another_patients_look_the_same(client, mint):
    theirs = _grant(client, _patient(mint, "pat-b"))
    a = client.get(f"/patient/v1/consents/{theirs}", headers=_patient(mint, "pat-a")).get_json()
    b = client.get("/patient/v1/consents/no-such-id", headers=_patient(mint, "pat-a")).get_json()
    assert {k: v for k, v in a.items() if k != "instance"} == {k: v for k, v in b.items() if k != "instance"}


def test_a_proxy_acts_only_for_the_patient_in_the_token(client, mint):
    theirs = _grant(client, _patient(mint, "pat-b"))
    carer_for_a = _patient(mint, "pat-a", act={"sub": "carer-1"})
    assert client.delete(f"/patient/v1/consents/{theirs}", headers=carer_for_a).status_code == 404
    assert client.get("/patient/v1/consents", headers=carer_for_a).get_json()["items"] == []


def test_the_list_shows_only_the_token_patients_consents(client, mint):
    _grant(client, _patient(mint, "pat-b"))
    mine = _grant(client, _patient(mint, "pat-a"))
    items = client.get("/patient/v1/consents", headers=_patient(mint, "pat-a")).get_json()["items"]
    assert [c["id"] for c in items] == [mine]


@pytest.mark.contract_violations_expected  # a 401/403 problem is not a consent view
@pytest.mark.parametrize("method, path", [("get", "/patient/v1/consents"), ("post", "/patient/v1/consents"),
                                          ("delete", "/patient/v1/consents/x")])
def test_a_department_token_cannot_use_the_patient_api(client, mint, method, path):
    resp = getattr(client, method)(path, headers=mint.department("cardiology", "system/*.cruds"), json={})
    assert resp.status_code == 403


def test_a_patient_token_without_the_consent_scope_is_refused(client, mint):
    resp = client.post("/patient/v1/consents", headers=_patient(mint, "pat-a", scope="patient/*.rs"),
                       json={"grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert resp.status_code == 403


def test_a_patient_token_cannot_ask_for_decisions_or_break_the_glass(client, mint):
    body = {"patient": "pat-a", "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]}
    assert client.post("/consent/v1/decisions", json=body, headers=_patient(mint, "pat-a")).status_code == 403
    assert client.post("/consent/v1/break-glass", json={"patient": "pat-a", "reason": "x"},
                       headers=_patient(mint, "pat-a")).status_code == 403


def test_no_token_is_a_401(client):
    assert client.post("/consent/v1/decisions", json={}).status_code == 401
    assert client.get("/fhir/Consent?patient=pat-a").status_code == 401
