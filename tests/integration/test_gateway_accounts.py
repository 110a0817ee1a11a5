"""Activation codes and activation, with the Patient served by a real upstream records server."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.gateway import activate, bearer, department, department_token, patient_tokens

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_department_gets_an_activation_code_for_its_patient(client, engine, records_upstream):
    token = department_token(client, department(engine, "primary-care"))
    resp = client.post("/accounts/v1/activation-codes", json={"patient": "p-9"},
                       headers={**bearer(token), "traceparent": TRACEPARENT})
    assert resp.status_code == 201
    expires = dt.datetime.fromisoformat(resp.json["expires_at"].replace("Z", "+00:00"))
    days = (expires - dt.datetime.now(dt.timezone.utc)).days
    assert days in (13, 14)
    lookup = records_upstream.requests[-1]
    assert lookup["path"] == "/fhir/Patient/p-9"
    assert lookup["headers"]["Authorization"] == f"Bearer {token}"
    # The gateway's trace, which it answers with, not the client's (services/common/tracing.py).
    version, trace_id, parent, flags = lookup["headers"]["Traceparent"].split("-")
    _, answered_trace, _, _ = resp.headers["traceresponse"].split("-")
    assert (version, trace_id) == ("00", answered_trace) and int(flags, 16) & 1  # sampled
    assert trace_id != TRACEPARENT.split("-")[1] and parent != TRACEPARENT.split("-")[2]


def test_the_code_is_stored_hashed_with_the_birth_date_and_language(client, engine, code):
    import sqlalchemy as sa
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM activation_codes")).mappings().one()
    assert code.replace("-", "") not in json.dumps(dict(row))
    assert row["birth_date"] == "1961-04-02" and row["language"] == "es"
    assert row["department"] == "primary-care"


def test_a_patient_outside_the_department_is_a_404_problem(client, engine, records_upstream):
    token = department_token(client, department(engine, "primary-care"))
    resp = client.post("/accounts/v1/activation-codes", json={"patient": "p-other"}, headers=bearer(token))
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [None, [], {}, {"patient": 5}, {"patient": "../x"}, {"patient": " "}])
def test_bad_activation_code_requests_are_4xx_problems(client, engine, records_upstream, body):
    token = department_token(client, department(engine, "primary-care"))
    resp = client.post("/accounts/v1/activation-codes", data=json.dumps(body),
                       content_type="application/json", headers=bearer(token))
    assert 400 <= resp.status_code < 500 and resp.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [b"[]", b'{"patient": NaN}', b"{not json"])
def test_a_body_that_is_not_a_json_object_is_a_422_naming_the_body_as_at_the_services(client, engine,
                                                                                      records_upstream, body):
    token = department_token(client, department(engine, "primary-care"))
    resp = client.post("/accounts/v1/activation-codes", data=body, content_type="application/json",
                       headers=bearer(token))
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert resp.json["fields"] == ["body"]


def test_only_a_department_token_may_ask_for_codes(client, records_upstream):
    assert client.post("/accounts/v1/activation-codes", json={"patient": "p-9"}).status_code == 401


def test_a_patient_activates_an_account_and_can_sign_in(client, engine, code):
    resp = activate(client, code.lower())  # codes are read back case-insensitively
    assert resp.status_code == 201 and resp.json == {"username": "maria", "patient": "p-9"}
    tokens = patient_tokens(client, engine, username="maria", password="a long passphrase")
    assert tokens["patient"] == "p-9"


def test_a_wrong_code_and_a_wrong_birth_date_get_the_same_answer(client, code):
    wrong_code = activate(client, "AAAA-BBBB-CCCC")
    wrong_date = activate(client, code, birth_date="1961-04-03")
    assert wrong_code.status_code == wrong_date.status_code == 400
    assert wrong_code.json["detail"] == wrong_date.json["detail"]
    assert wrong_code.json["type"] == wrong_date.json["type"]


def test_a_used_code_is_refused(client, code):
    assert activate(client, code).status_code == 201
    again = activate(client, code, username="someone-else")
    assert again.status_code == 410 and again.mimetype == "application/problem+json"


def test_an_expired_code_is_refused(client, engine, code):
    import sqlalchemy as sa
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE activation_codes SET expires_at = 0"))
    assert activate(client, code).status_code == 410


def test_wrong_birth_dates_use_up_the_code(client, code):
    for _ in range(5):
        assert activate(client, code, birth_date="2000-01-01").status_code == 400
    assert activate(client, code).status_code == 410


def test_activation_attempts_are_rate_limited(gateway_config, records_upstream):
    from gateway.app import create_app
    client = create_app({**gateway_config, "ACTIVATION_ATTEMPTS_PER_MINUTE": 3}).test_client()
    statuses = [activate(client, "AAAA-BBBB-CCCC").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


@pytest.mark.parametrize("change", [{"username": "x"}, {"password": "short"}, {"code": None},
                                    {"birth_date": 19610402}])
def test_bad_activation_input_is_a_4xx_problem(client, code, change):
    body = {"code": code, "birth_date": "1961-04-02", "username": "maria",
            "password": "a long passphrase", **change}
    resp = client.post("/accounts/v1/activate", json=body)
    assert 400 <= resp.status_code < 500 and resp.mimetype == "application/problem+json"


def test_a_taken_username_is_a_409(client, engine, records_upstream):
    token = department_token(client, department(engine, "primary-care"))
    first = client.post("/accounts/v1/activation-codes", json={"patient": "p-9"}, headers=bearer(token))
    assert activate(client, first.json["code"], username="maria").status_code == 201
    # a new code for the same patient: the record already has an account
    second = client.post("/accounts/v1/activation-codes", json={"patient": "p-9"}, headers=bearer(token))
    assert activate(client, second.json["code"], username="maria").status_code == 409


def test_inviting_a_proxy_needs_a_patient_token(client):
    # The whole feature is tested in test_gateway_proxies.py.
    resp = client.post("/patient/v1/proxies", json={})
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"
