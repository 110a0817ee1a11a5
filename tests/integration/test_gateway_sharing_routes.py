"""The gateway's routes for sharing requests against a real upstream: a patient's token reaches
the patient's side with the consent scopes it holds, a department client's token reaches neither
side, and a path the table does not name is a 404 that never reaches the service."""
from __future__ import annotations

from tests.support.gateway import bearer, department, department_token, make_account, patient_tokens

PROBLEM = "application/problem+json"


def test_a_patient_who_may_change_consents_reads_and_answers_requests(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Consent.cruds")["access_token"]
    assert client.get("/patient/v1/sharing-requests", headers=bearer(token)).status_code == 200
    assert client.get("/patient/v1/sharing-requests/r-1", headers=bearer(token)).status_code == 200
    for action in ("approve", "decline"):
        resp = client.post(f"/patient/v1/sharing-requests/r-1/{action}", headers=bearer(token), json={})
        assert resp.status_code == 200 and upstream.requests[-1]["path"] == f"/patient/v1/sharing-requests/r-1/{action}"
    assert client.post("/staff/v1/sharing-requests", headers=bearer(token), json={}).status_code == 403


def test_a_token_that_may_only_read_records_reads_requests_but_cannot_answer(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs")["access_token"]
    assert client.get("/patient/v1/sharing-requests", headers=bearer(token)).status_code == 200
    before = len(upstream.requests)
    resp = client.post("/patient/v1/sharing-requests/r-1/approve", headers=bearer(token), json={})
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert len(upstream.requests) == before


def test_a_department_clients_token_reaches_neither_side(client, engine, upstream):
    token = department_token(client, department(engine, "cardiology"))
    for method, path in (("POST", "/staff/v1/sharing-requests"), ("GET", "/staff/v1/sharing-requests"),
                         ("GET", "/staff/v1/sharing-requests/r-1"), ("GET", "/patient/v1/sharing-requests"),
                         ("POST", "/patient/v1/sharing-requests/r-1/approve")):
        resp = client.open(path, method=method, headers=bearer(token), json={})
        assert resp.status_code == 403 and resp.mimetype == PROBLEM, (method, path)
    assert upstream.requests == []


def test_a_sharing_path_the_table_does_not_name_is_a_404(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Consent.cruds")["access_token"]
    for method, path in (("DELETE", "/patient/v1/sharing-requests/r-1"),
                         ("POST", "/patient/v1/sharing-requests/r-1/forward"),
                         ("DELETE", "/staff/v1/sharing-requests/r-1")):
        resp = client.open(path, method=method, headers=bearer(token))
        assert resp.status_code == 404 and resp.mimetype == PROBLEM, (method, path)
    assert upstream.requests == []
