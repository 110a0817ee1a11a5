"""The gateway's routes for answering correction requests against a real upstream: a patient's
statement of disagreement reaches records with the right to ask for corrections and not without
it, a department client's token reaches no staff route, an accept may carry a whole FHIR
resource, and a path the table does not name is a 404 that never reaches the service."""
from __future__ import annotations

from gateway.proxy import routes
from services.common import bodies
from tests.support.gateway import bearer, department, department_token, make_account, patient_tokens

PROBLEM = "application/problem+json"
STAFF_ROUTES = (("GET", "/staff/v1/corrections"), ("GET", "/staff/v1/corrections/t-1"),
                ("POST", "/staff/v1/corrections/t-1/accept"), ("POST", "/staff/v1/corrections/t-1/deny"))


def test_each_correction_route_goes_to_records_with_the_scope_it_needs():
    expected = {("GET", "/staff/v1/corrections"): ("user", "Task", "rs"),
                ("GET", "/staff/v1/corrections/t-1"): ("user", "Task", "r"),
                ("POST", "/staff/v1/corrections/t-1/accept"): ("user", "Task", "u"),
                ("POST", "/staff/v1/corrections/t-1/deny"): ("user", "Task", "u"),
                ("POST", "/patient/v1/corrections/t-1/disagreement"): ("patient", "Task", "c")}
    for (method, path), rule in expected.items():
        found = routes.match(method, path)
        assert found is not None and (found.upstream, found.rule) == ("records", rule), (method, path)
    assert routes.match("POST", "/staff/v1/corrections/t-1/accept").max_body == bodies.RESOURCE
    assert routes.match("POST", "/staff/v1/corrections/t-1/deny").max_body == bodies.SMALL


def test_a_patient_who_may_ask_for_corrections_sends_a_statement_of_disagreement(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs patient/Task.c")["access_token"]
    resp = client.post("/patient/v1/corrections/t-1/disagreement", headers=bearer(token), json={"statement": "No."})
    assert resp.status_code == 200 and upstream.requests[-1]["path"] == "/patient/v1/corrections/t-1/disagreement"
    for method, path in STAFF_ROUTES:
        resp = client.open(path, method=method, headers=bearer(token), json={})
        assert resp.status_code == 403 and resp.mimetype == PROBLEM, (method, path)


def test_a_token_that_may_only_read_records_cannot_send_a_statement(client, engine, upstream):
    make_account(engine, patient="p-7")
    token = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs")["access_token"]
    before = len(upstream.requests)
    resp = client.post("/patient/v1/corrections/t-1/disagreement", headers=bearer(token), json={"statement": "No."})
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert len(upstream.requests) == before


def test_a_department_clients_token_reaches_no_staff_route(client, engine, upstream):
    token = department_token(client, department(engine, "primary-care"))
    for method, path in (*STAFF_ROUTES, ("POST", "/patient/v1/corrections/t-1/disagreement")):
        resp = client.open(path, method=method, headers=bearer(token), json={})
        assert resp.status_code == 403 and resp.mimetype == PROBLEM, (method, path)
    assert upstream.requests == []


def test_a_corrections_path_the_table_does_not_name_is_a_404(client, engine, upstream):
    token = department_token(client, department(engine, "primary-care"))
    for method, path in (("DELETE", "/staff/v1/corrections/t-1"), ("POST", "/staff/v1/corrections/t-1/reopen"),
                         ("PUT", "/staff/v1/corrections/t-1"), ("GET", "/patient/v1/corrections/t-1"),
                         ("POST", "/staff/v1/corrections/a b/deny")):
        resp = client.open(path, method=method, headers=bearer(token))
        assert resp.status_code == 404 and resp.mimetype == PROBLEM, (method, path)
    assert upstream.requests == []
