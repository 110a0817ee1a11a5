"""The gateway's own human measures as data (gateway/admin/measures_api.py), with real tokens from
the console's sign-in, on SQLite and PostgreSQL: page answers for the whole system, the staff
pulse of the caller's own department only; refused without the scope or with a revoked token;
the other services' measures routes are forwarded with the same scope."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from gateway import storage
from gateway.portal.pulse import SMALLEST_GROUP, period
from gateway.proxy import routes
from tests.support.gateway import bearer
from tests.support.staff import console_directory, gateway_staff_store, person, staff_tokens

PATH = "/staff/v1/measures/gateway"


@pytest.fixture
def gateway_config(gateway_config, database_url):
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def clock(monkeypatch):
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def signed_in(client, engine, clock):
    directory, staff = console_directory(engine), gateway_staff_store(engine)

    def token(roles, username):
        account, secret, _codes = person(staff, directory, clock, username=username, roles=roles)
        return staff_tokens(client, account.username, secret, clock)["access_token"]
    return token


def test_quality_staff_see_page_answers_and_their_own_departments_pulse(client, app, signed_in):
    stores = app.extensions["gateway"].stores
    stores.page_answers.add("records", "es", "no", "Hard words", dt.date.today())
    last_week = period()[0]  # the current week is never shown
    for n in range(SMALLEST_GROUP):
        stores.pulse.answer(f"c-{n}", "cardiology", last_week, "heavy", "helped")
        stores.pulse.answer(f"e-{n}", "emergency", last_week, "light", "helped")
    resp = client.get(PATH, headers=bearer(signed_in(("quality",), "q.one")))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["service"] == "gateway" and body["department"] == "cardiology"
    found = {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in body["measures"]}
    assert found[("phr_page_answers", (("answer", "no"), ("language", "es"), ("page", "records")))] == 1.0
    assert found[("phr_staff_pulse", (("answer", "heavy"), ("department", "cardiology"), ("question", "workload")))] == 5.0
    assert not any(("department", "emergency") in labels for _n, labels in found)
    assert "Hard words" not in resp.get_data(as_text=True)  # comments are not measures


def test_a_clinician_is_refused_and_a_revoked_token_too(client, signed_in):
    refused = client.get(PATH, headers=bearer(signed_in(("clinician",), "dr.one")))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    token = signed_in(("privacy-officer",), "po.one")
    assert client.get(PATH, headers=bearer(token)).status_code == 200
    assert client.post("/oauth/revoke", data={"token": token, "client_id": "phr-console"}).status_code == 200
    revoked = client.get(PATH, headers=bearer(token))
    assert revoked.status_code == 401 and revoked.mimetype == "application/problem+json"


def test_each_services_measures_are_routed_with_the_measure_scope_and_nothing_else_is():
    for service in ("consent", "records", "exchange"):
        found = routes.match("GET", f"/staff/v1/measures/{service}")
        assert found.upstream == service and found.rule == ("user", "Measure", "rs")
        assert routes.match("POST", f"/staff/v1/measures/{service}") is None
        assert routes.match("GET", f"/staff/v1/measures/{service}/x") is None
    assert routes.upstream_for(PATH) is None  # the gateway's own, never forwarded
    assert routes.match("GET", "/staff/v1/measures/reports") is None
