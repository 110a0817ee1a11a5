"""The directory's admin API on the gateway (/admin/v1/departments), with real tokens from the
gateway's own token endpoint, on SQLite and PostgreSQL: who may call it, what it refuses without
changing anything, and what registering, changing and disabling a department do to its client,
its tokens and the events in the outbox."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from contracts.events import problems
from gateway import schema
from gateway.admin.clients import ensure_admin_client
from gateway.authz.oauth import unverified_claims
from services.common import bodies
from tests.support.gateway import (admin_token, basic, bearer, department, department_token,
                                   register)

PROBLEM = "application/problem+json"
PATH = "/admin/v1/departments"
PHYSIO = {"department": "physiotherapy", "names": {"en": "Physiotherapy", "es": "Fisioterapia"},
          "kind": "clinical", "may_claim_emergencies": False, "may_write_records": True}
#: Every operation of the API, with a body it would take.
CALLS = [("GET", PATH, None), ("POST", PATH, PHYSIO), ("GET", f"{PATH}/cardiology", None),
         ("PUT", f"{PATH}/cardiology", {"names": {"en": "Heart", "es": "Corazón"},
                                        "may_claim_emergencies": False, "may_write_records": False}),
         ("POST", f"{PATH}/cardiology/disable", {"reason": "Closed."})]
CALL_IDS = ["list", "register", "read", "change", "disable"]


@pytest.fixture
def gateway_config(gateway_config, database_url):
    """The gateway on the test's database: SQLite, then PostgreSQL."""
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def admin(client, engine) -> str:
    return admin_token(client, engine)


def call(client, method, path, body=None, token=None, **kw):
    headers = {**(bearer(token) if token else {}), **kw.pop("headers", {})}
    return client.open(path, method=method, json=body, headers=headers, **kw)


def stored(engine) -> dict:
    """Everything the API may change: entries, clients, the outbox."""
    with engine.connect() as conn:
        return {"departments": conn.execute(sa.select(schema.departments)).all(),
                "clients": conn.execute(sa.select(schema.clients.c.client_id, schema.clients.c.scope,
                                                  schema.clients.c.disabled_at)
                                        .order_by(schema.clients.c.client_id)).all(),
                "outbox": conn.execute(sa.select(schema.outbox.c.payload)).all()}


def events(engine) -> list[dict]:
    """The queued events, each on phr.directory.v1 keyed by its department."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.seq)).mappings().all()
    found = [json.loads(r["payload"]) for r in rows]
    assert [(r["topic"], r["key"]) for r in rows] == [("phr.directory.v1", e["subject"]) for e in found]
    return found


def claims(token: str) -> dict:
    return unverified_claims(token)


def is_problem(resp, status: int) -> bool:
    """A problem with STATUS: problem+json, or on /fhir FHIR's own media type (an OperationOutcome
    that keeps the problem's fields)."""
    media = "application/fhir+json" if resp.request.path.startswith("/fhir") else PROBLEM
    return resp.status_code == status and resp.mimetype == media and resp.json["status"] == status


# who may call it ----------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body", CALLS, ids=CALL_IDS)
def test_without_a_token_every_call_is_a_401_problem_that_changes_nothing(client, engine, method, path, body):
    before = stored(engine)
    resp = call(client, method, path, body)
    assert is_problem(resp, 401) and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(engine) == before


@pytest.mark.parametrize("method,path,body", CALLS, ids=CALL_IDS)
def test_a_department_token_is_a_403_problem_that_changes_nothing(client, engine, method, path, body):
    token = department_token(client, department(engine, "primary-care"))  # system/*.rs system/*.cud ...
    before = stored(engine)
    resp = call(client, method, path, body, token)
    assert is_problem(resp, 403)
    assert 'scope="admin/Departments.crus"' in resp.headers["WWW-Authenticate"]
    assert stored(engine) == before


WILDCARDS = "system/*.* system/*.cruds system/*.write user/*.* patient/*.* system/*.rs system/*.cu"


@pytest.mark.parametrize("method,path,body", CALLS, ids=CALL_IDS)
def test_a_token_with_every_wildcard_scope_is_a_403_problem(client, engine, method, path, body):
    token = department_token(client, department(engine, "wild", scopes=WILDCARDS))
    assert set(claims(token)["scope"].split()) == set(WILDCARDS.split())
    before = stored(engine)
    assert is_problem(call(client, method, path, body, token), 403)
    assert stored(engine) == before


@pytest.mark.parametrize("asked", ["admin/Departments.crus", "admin/Departments.r", "admin/*.*"])
def test_a_client_with_wildcard_scopes_cannot_get_an_admin_scope_from_the_token_endpoint(client, engine, asked):
    creds = department(engine, "wild", scopes=WILDCARDS)
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": asked},
                       headers=basic(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 400 and resp.json["error"] == "invalid_scope"


def test_a_revoked_admin_token_is_a_401_problem_that_changes_nothing(client, engine):
    creds = ensure_admin_client(engine)
    token = department_token(client, creds)
    assert claims(token)["scope"] == "admin/Departments.crus" and "dept" not in claims(token)
    assert call(client, "GET", PATH, token=token).status_code == 200
    revoked = client.post("/oauth/revoke", data={"token": token},
                          headers=basic(creds["client_id"], creds["client_secret"]))
    assert revoked.status_code == 200
    before = stored(engine)
    resp = call(client, "POST", PATH, PHYSIO, token)
    assert is_problem(resp, 401) and "invalid_token" in resp.headers["WWW-Authenticate"]
    assert stored(engine) == before


# what it refuses, changing nothing ---------------------------------------------------------------
BAD_BODIES = {
    "not-json": ("{department: physiotherapy", "application/json", 422),
    "not-an-object": (json.dumps([PHYSIO]), "application/json", 422),
    "another-media-type": (json.dumps(PHYSIO), "text/plain", 422),
    "too-deep": ("[" * 200 + "]" * 200, "application/json", 400),
    "too-large": (json.dumps({**PHYSIO, "pad": "x" * (bodies.SMALL + 1)}), "application/json", 413),
    "unknown-kind": (json.dumps({**PHYSIO, "kind": "billing"}), "application/json", 422),
    "id-with-capitals": (json.dumps({**PHYSIO, "department": "Physio"}), "application/json", 422),
    "id-too-long": (json.dumps({**PHYSIO, "department": "p" * 41}), "application/json", 422),
    "id-with-a-slash": (json.dumps({**PHYSIO, "department": "physio/x"}), "application/json", 422),
    "no-spanish-name": (json.dumps({**PHYSIO, "names": {"en": "Physiotherapy"}}), "application/json", 422),
    "blank-name": (json.dumps({**PHYSIO, "names": {"en": "Physio", "es": "  "}}), "application/json", 422),
    "name-too-long": (json.dumps({**PHYSIO, "names": {"en": "P" * 81, "es": "F"}}), "application/json", 422),
    "not-a-language": (json.dumps({**PHYSIO, "names": {"en": "P", "es": "F", "Klingon!": "K"}}),
                       "application/json", 422),
    "research-breaks-the-glass": (json.dumps({**PHYSIO, "kind": "research", "may_write_records": False,
                                              "may_claim_emergencies": True}), "application/json", 422),
    "oversight-writes": (json.dumps({**PHYSIO, "kind": "oversight"}), "application/json", 422),
    "a-flag-as-text": (json.dumps({**PHYSIO, "may_write_records": "maybe"}), "application/json", 422),
    "an-unknown-field": (json.dumps({**PHYSIO, "scope": "system/*.*"}), "application/json", 422),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_a_bad_registration_is_a_4xx_problem_that_stores_nothing_and_queues_nothing(client, engine, admin, name):
    text, media_type, status = BAD_BODIES[name]
    before = stored(engine)
    resp = client.post(PATH, data=text, headers={**bearer(admin), "Content-Type": media_type})
    assert is_problem(resp, status), resp.get_data(as_text=True)[:300]
    assert stored(engine) == before and before["departments"] == [] and before["outbox"] == []


def test_a_bad_registration_names_the_field_it_breaks(client, admin):
    resp = call(client, "POST", PATH, {**PHYSIO, "kind": "research", "may_write_records": True}, admin)
    assert is_problem(resp, 422) and resp.json["fields"] == ["may_write_records"]
    resp = call(client, "POST", PATH, {**PHYSIO, "names": {"en": "Physiotherapy"}}, admin)
    assert resp.json["fields"] == ["names"]


@pytest.mark.parametrize("taken", ["physiotherapy", "phr-admin", "cardiology"])
def test_an_id_already_taken_by_a_department_or_another_client_is_a_409_that_changes_nothing(
        client, engine, admin, taken):
    department(engine, "cardiology")  # a client registered before the directory
    assert register(client, admin).status_code == 201
    before = stored(engine)
    resp = call(client, "POST", PATH, {**PHYSIO, "department": taken}, admin)
    assert is_problem(resp, 409) and resp.json["fields"] == ["department"]
    assert stored(engine) == before


@pytest.mark.parametrize("method,path,body", CALLS[2:], ids=CALL_IDS[2:])
def test_an_unknown_department_is_a_404_problem(client, engine, admin, method, path, body):
    before = stored(engine)
    assert is_problem(call(client, method, path, body, admin), 404)
    assert stored(engine) == before


@pytest.mark.parametrize("body", [{"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}, {}, {"why": "x"}])
def test_disabling_needs_a_reason_of_1_to_1000_characters(client, engine, admin, body):
    assert register(client, admin).status_code == 201
    before = stored(engine)
    assert is_problem(call(client, "POST", f"{PATH}/physiotherapy/disable", body, admin), 422)
    assert stored(engine) == before


def test_a_change_may_not_give_a_research_department_a_clinical_right(client, engine, admin):
    assert register(client, admin, "trials", kind="research").status_code == 201
    before = stored(engine)
    resp = call(client, "PUT", f"{PATH}/trials", {"names": {"en": "Trials", "es": "Ensayos"},
                                                  "may_claim_emergencies": True, "may_write_records": False}, admin)
    assert is_problem(resp, 422) and resp.json["fields"] == ["may_claim_emergencies"]
    assert stored(engine) == before


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=abc", "cursor="])
def test_a_bad_page_is_a_422_naming_the_parameter(client, admin, query):
    resp = client.get(f"{PATH}?{query}", headers=bearer(admin))
    assert is_problem(resp, 422) and resp.json["fields"] == [query.split("=")[0]]


def test_the_proxy_never_forwards_an_admin_path(client, engine, admin, upstream):
    assert call(client, "GET", f"{PATH}/x/y/z", token=admin).status_code == 404
    assert call(client, "DELETE", f"{PATH}/physiotherapy", token=admin).status_code == 405
    assert upstream.requests == []


# what it does ---------------------------------------------------------------------------------
def test_a_registered_department_gets_a_client_whose_token_names_it_with_its_rights(client, engine, admin):
    resp = call(client, "POST", PATH, PHYSIO, admin)
    assert resp.status_code == 201, resp.json
    assert resp.headers["Location"].endswith(f"{PATH}/physiotherapy")
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert {k: body[k] for k in PHYSIO} == PHYSIO
    assert body["status"] == "active" and body["version"] == 1 and body["client_id"] == "physiotherapy"
    token = department_token(client, {"client_id": body["client_id"], "client_secret": body["client_secret"]})
    assert claims(token)["dept"] == "physiotherapy"
    assert claims(token)["scope"] == body["scope"] == "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd system/*.cud"
    read = call(client, "GET", f"{PATH}/physiotherapy", token=admin)
    assert read.status_code == 200 and read.json == {k: v for k, v in body.items()
                                                     if k not in ("client_id", "client_secret", "scope")}
    assert body["client_secret"] not in json.dumps([list(map(str, r)) for r in stored(engine)["clients"]])


def test_registering_queues_a_registered_event_with_the_whole_entry(client, engine, admin):
    body = call(client, "POST", PATH, {**PHYSIO, "names": {**PHYSIO["names"], "pt-BR": "Fisioterapia"}},
                admin).json
    [event] = events(engine)
    assert problems(event) == []
    assert event["type"] == "phr.directory.department-registered" and event["source"] == "/gateway"
    assert event["subject"] == "physiotherapy"
    assert event["data"] == {k: v for k, v in body.items() if k not in ("client_id", "client_secret", "scope")}


@pytest.mark.parametrize("kind,flags,scope", [
    ("clinical", {}, "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd"),
    ("clinical", {"may_claim_emergencies": True}, "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd system/BreakGlass.c"),
    ("research", {}, "system/Exchange.cr system/Consent.r"),
    ("oversight", {}, "system/Equity.r"),
])
def test_each_kind_gets_the_scopes_of_its_kind_and_rights(client, engine, admin, kind, flags, scope):
    body = {**PHYSIO, "department": "unit-x", "kind": kind, "may_write_records": False, **flags}
    made = call(client, "POST", PATH, body, admin).json
    token = department_token(client, {"client_id": "unit-x", "client_secret": made["client_secret"]})
    assert made["scope"] == claims(token)["scope"] == scope


def test_the_list_pages_by_id_through_every_department(client, engine, admin):
    for name in ("dermatology", "ophthalmology", "audiology"):
        assert register(client, admin, name).status_code == 201
    first = call(client, "GET", f"{PATH}?limit=2", token=admin).json
    assert [d["department"] for d in first["items"]] == ["audiology", "dermatology"] and first["next"]
    second = call(client, "GET", f"{PATH}?limit=2&cursor={first['next']}", token=admin).json
    assert [d["department"] for d in second["items"]] == ["ophthalmology"] and second["next"] is None


def test_a_change_sets_names_and_rights_bumps_the_version_and_queues_the_entry_again(client, engine, admin):
    made = call(client, "POST", PATH, PHYSIO, admin).json
    creds = {"client_id": "physiotherapy", "client_secret": made["client_secret"]}
    change = {"names": {"en": "Physical therapy", "es": "Fisioterapia"}, "may_claim_emergencies": True,
              "may_write_records": True}
    resp = call(client, "PUT", f"{PATH}/physiotherapy", change, admin)
    assert resp.status_code == 200 and resp.json["version"] == 2
    assert resp.json["names"]["en"] == "Physical therapy" and resp.json["may_claim_emergencies"] is True
    assert "system/BreakGlass.c" in claims(department_token(client, creds))["scope"].split()
    again = call(client, "PUT", f"{PATH}/physiotherapy", change, admin)
    assert again.status_code == 200 and again.json == resp.json  # the same values: nothing new
    registered = events(engine)
    assert [e["data"]["version"] for e in registered] == [1, 2] and [problems(e) for e in registered] == [[], []]
    assert registered[1]["data"] == resp.json


def test_a_change_that_takes_a_right_away_ends_the_live_tokens_at_once(client, engine, admin, upstream):
    made = call(client, "POST", PATH, PHYSIO, admin).json
    creds = {"client_id": "physiotherapy", "client_secret": made["client_secret"]}
    token = department_token(client, creds)
    assert client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code == 200
    resp = call(client, "PUT", f"{PATH}/physiotherapy", {"names": PHYSIO["names"], "may_claim_emergencies": False,
                                                          "may_write_records": False}, admin)
    assert resp.status_code == 200
    assert is_problem(client.get("/fhir/Patient/p-1", headers=bearer(token)), 401)
    assert "system/*.cud" not in claims(department_token(client, creds))["scope"].split()


def test_a_disabled_department_is_refused_at_once_by_the_proxy_and_by_the_token_endpoint(
        client, engine, admin, upstream):
    made = call(client, "POST", PATH, PHYSIO, admin).json
    creds = {"client_id": "physiotherapy", "client_secret": made["client_secret"]}
    token = department_token(client, creds)
    assert client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code == 200
    seen = len(upstream.requests)

    resp = call(client, "POST", f"{PATH}/physiotherapy/disable", {"reason": "The clinic closed."}, admin)
    assert resp.status_code == 200
    assert resp.json["status"] == "disabled" and resp.json["reason"] == "The clinic closed."
    assert resp.json["version"] == 2

    refused = client.get("/fhir/Patient/p-1", headers=bearer(token))
    assert is_problem(refused, 401) and "invalid_token" in refused.headers["WWW-Authenticate"]
    assert len(upstream.requests) == seen  # never forwarded
    again = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=basic(creds["client_id"], creds["client_secret"]))
    assert again.status_code == 401 and again.json["error"] == "invalid_client"
    revoked = json.loads(client.get("/oauth/revoked").get_data())["revoked"]
    assert claims(token)["jti"] in {r["jti"] for r in revoked}  # the services' copies refuse it too

    registered, disabled = events(engine)
    assert disabled["type"] == "phr.directory.department-disabled" and problems(disabled) == []
    assert disabled["subject"] == "physiotherapy" and disabled["data"] == resp.json
    assert registered["data"]["version"] == 1


def test_disabling_twice_changes_nothing_the_second_time(client, engine, admin):
    assert register(client, admin).status_code == 201
    first = call(client, "POST", f"{PATH}/physiotherapy/disable", {"reason": "Closed."}, admin)
    before = stored(engine)
    second = call(client, "POST", f"{PATH}/physiotherapy/disable", {"reason": "Another reason."}, admin)
    assert second.status_code == 200 and second.json == first.json
    assert stored(engine) == before


def test_a_disabled_department_cannot_be_changed_or_registered_again(client, engine, admin):
    assert register(client, admin).status_code == 201
    call(client, "POST", f"{PATH}/physiotherapy/disable", {"reason": "Closed."}, admin)
    before = stored(engine)
    changed = call(client, "PUT", f"{PATH}/physiotherapy", {"names": PHYSIO["names"], "may_claim_emergencies": False,
                                                             "may_write_records": False}, admin)
    assert is_problem(changed, 409)
    assert is_problem(register(client, admin), 409)
    assert stored(engine) == before


def test_the_smart_configuration_lists_every_scope_of_every_kind(client):
    supported = set(client.get("/.well-known/smart-configuration").json["scopes_supported"])
    assert {"system/*.rs", "system/*.cud", "system/BreakGlass.c", "system/Exchange.cr", "system/Consent.r",
            "system/Equity.r", "admin/Departments.crus", "patient/*.rs", "patient/Task.c"} <= supported
