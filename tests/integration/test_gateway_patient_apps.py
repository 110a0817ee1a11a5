"""Patients' own apps (SMART App Launch 2) through the gateway over real HTTP, on SQLite
and PostgreSQL: dynamic registration (RFC 7591), the patient's approval on the HTML pages, the
standalone launch with PKCE giving `patient` and an OpenID Connect id_token, userinfo, and
disconnecting an app, which the gateway honours at once."""
from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway import schema
from gateway.authz.oauth import unverified_claims
from tests.support.patient_apps import (APP_REDIRECT, APP_SCOPE, app_id, app_key, app_tokens,
                                        approval_page, authorize_query, client_assertion, decide,
                                        portal_token, register)
from tests.support.gateway import PASSWORD, bearer, make_patient, pkce


def _engine(gw):
    return gw.app.extensions["gateway"].engine


def _count(gw, table) -> int:
    with _engine(gw).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


# -- registration ------------------------------------------------------------------------------------
def test_a_public_app_registers_and_gets_an_id_but_no_secret(gw):
    resp = register(gw.url)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["client_id"].startswith("app-") and "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == [APP_REDIRECT] and body["scope"] == APP_SCOPE


def test_an_app_that_names_no_method_and_no_keys_is_public(gw):
    resp = requests.post(gw.url + "/oauth/register", json={"redirect_uris": [APP_REDIRECT]}, timeout=10)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["token_endpoint_auth_method"] == "none"
    assert body["scope"] == "launch/patient openid fhirUser patient/*.rs"


def test_a_confidential_app_registers_its_public_keys(gw):
    key = app_key()
    resp = register(gw.url, token_endpoint_auth_method="private_key_jwt",
                    jwks={"keys": [key.as_dict(private=False)]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["token_endpoint_auth_method"] == "private_key_jwt"


def test_an_app_is_refused_a_redirect_uri_over_plain_http(gw):
    before = _count(gw, schema.clients)
    resp = register(gw.url, redirect_uris=["http://app.example/callback"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_redirect_uri"
    assert _count(gw, schema.clients) == before


def test_a_native_app_may_use_the_loopback_over_plain_http(gw):
    assert register(gw.url, redirect_uris=["http://127.0.0.1:8765/cb"]).status_code == 201


def test_an_app_is_refused_scopes_beyond_reading_the_patients_record(gw):
    before = _count(gw, schema.clients)
    for scope in ("patient/Observation.c", "system/*.rs", "user/*.rs", "patient/*.cruds",
                  "patient/Consent.cruds", "patient/BreakGlass.rs"):
        resp = register(gw.url, scope="openid " + scope)
        assert resp.status_code == 400, scope
        assert resp.json()["error"] == "invalid_client_metadata", scope
    assert _count(gw, schema.clients) == before


def test_an_app_is_refused_a_jwks_uri_and_private_keys(gw):
    key = app_key()
    assert register(gw.url, token_endpoint_auth_method="private_key_jwt",
                    jwks_uri="https://app.example/jwks").status_code == 400
    assert register(gw.url, token_endpoint_auth_method="private_key_jwt",
                    jwks={"keys": [key.as_dict(private=True)]}).status_code == 400
    assert register(gw.url, token_endpoint_auth_method="client_secret_basic").status_code == 400


def test_a_malformed_or_oversized_registration_is_refused_and_stores_nothing(gw):
    before = _count(gw, schema.clients)
    url = gw.url + "/oauth/register"
    bad_json = requests.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "invalid_client_metadata"
    a_list = requests.post(url, json=["https://app.example/cb"], timeout=10)
    assert a_list.status_code == 400 and a_list.json()["error"] == "invalid_client_metadata"
    huge = requests.post(url, json={"client_name": "x", "redirect_uris": [APP_REDIRECT],
                                    "padding": "a" * 20_000}, timeout=10)
    assert huge.status_code == 413
    assert huge.headers["Content-Type"].startswith("application/problem+json")
    assert _count(gw, schema.clients) == before


@pytest.mark.parametrize("field", [{"jwks": "x"}, {"response_types": [None]}, {"client_uri": 5},
                                   {"redirect_uris": [5]}, {"grant_types": "x"}, {"contacts": "x"}],
                         ids=["jwks", "response_types", "client_uri", "redirect_uris", "grant_types", "contacts"])
def test_a_registration_field_of_the_wrong_type_is_refused_and_stores_nothing(gw, field):
    before = _count(gw, schema.clients)
    resp = requests.post(gw.url + "/oauth/register", json={"redirect_uris": [APP_REDIRECT], **field}, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
    assert _count(gw, schema.clients) == before


def test_registrations_from_one_address_are_limited(tmp_path, database_url):
    from tests.security.gateway_server import GatewayServer
    with GatewayServer(tmp_path, database_url, APP_REGISTRATIONS_PER_HOUR=2) as server:
        assert [register(server.url).status_code for _ in range(3)] == [201, 201, 429]
        third = register(server.url)
        assert third.headers["Retry-After"].isdigit()


# -- the standalone launch ---------------------------------------------------------------------------
def test_a_patients_app_launches_standalone_and_gets_the_patient_and_an_id_token(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id, aud=gw.url + "/fhir", nonce="n-42")
    assert tokens["patient"] == "p-1" and "refresh_token" in tokens
    access = unverified_claims(tokens["access_token"])
    assert access["patient"] == "p-1" and access["fhirUser"] == "Patient/p-1"
    assert access["client_id"] == client_id
    assert set(access["scope"].split()) == set(APP_SCOPE.split())
    jwks = KeySet.import_key_set(requests.get(gw.url + "/oauth/jwks", timeout=10).json())
    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": gw.url},
                          aud={"essential": True, "value": client_id},
                          nonce={"essential": True, "value": "n-42"},
                          fhirUser={"essential": True, "value": "Patient/p-1"}).validate(id_token.claims)
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 200 and info.json()["fhirUser"] == "Patient/p-1"
    assert info.json()["sub"] == id_token.claims["sub"]


def test_a_confidential_app_exchanges_its_code_with_a_signed_assertion(gw):
    make_patient(_engine(gw), patient="p-1")
    key = app_key()
    client_id = app_id(gw.url, token_endpoint_auth_method="private_key_jwt",
                       jwks={"keys": [key.as_dict(private=False)]})
    tokens = app_tokens(gw.url, client_id,
                        assertion=client_assertion(key, client_id, gw.url + "/oauth/token"))
    assert tokens["patient"] == "p-1"
    # without the assertion the code is not enough
    verifier, challenge = pkce()
    browser, approval = approval_page(gw.url, authorize_query(client_id, challenge))
    code = decide(gw.url, browser, approval, "allow")["code"]
    resp = requests.post(gw.url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
        "client_id": client_id, "code_verifier": verifier}, timeout=10)
    assert resp.status_code in (400, 401) and "access_token" not in resp.json()


def test_the_approval_page_says_in_plain_words_what_the_app_will_see(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url, scope="launch/patient openid patient/Observation.rs patient/AllergyIntolerance.r")
    _verifier, challenge = pkce()
    _browser, approval = approval_page(gw.url, authorize_query(
        client_id, challenge, scope="launch/patient openid patient/Observation.rs patient/AllergyIntolerance.r"))
    assert approval.status_code == 200
    html = approval.text
    assert "Step Counter" in html and "Your test results and measurements" in html
    assert "Your allergies" in html and "<script" not in html
    assert 'value="allow"' in html and 'value="deny"' in html


def test_an_app_gets_no_more_than_it_registered_however_it_asks(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url, scope="launch/patient openid patient/Observation.rs")
    tokens = app_tokens(gw.url, client_id,
                        scope="launch/patient openid patient/*.rs patient/*.cruds system/*.rs")
    assert unverified_claims(tokens["access_token"])["scope"] == "launch/patient openid"


def test_denying_the_app_redirects_with_access_denied_and_gives_nothing(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    _verifier, challenge = pkce()
    browser, approval = approval_page(gw.url, authorize_query(client_id, challenge))
    query = decide(gw.url, browser, approval, "deny")
    assert query["error"] == "access_denied" and query["state"] == "s-1" and "code" not in query
    assert _count(gw, schema.app_approvals) == 0 and _count(gw, schema.auth_codes) == 0


def test_an_app_cannot_choose_another_patient(gw):
    make_patient(_engine(gw), patient="p-1")
    make_patient(_engine(gw), username="bea", patient="p-2")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id, patient="p-2", launch="patient=p-2")
    assert tokens["patient"] == "p-1"
    assert unverified_claims(tokens["access_token"])["patient"] == "p-1"


def test_an_unknown_redirect_uri_never_gets_a_code(gw):
    client_id = app_id(gw.url)
    _verifier, challenge = pkce()
    query = {**authorize_query(client_id, challenge), "redirect_uri": "https://evil.example/cb"}
    page = requests.get(gw.url + "/oauth/authorize", params=query, timeout=10, allow_redirects=False)
    assert page.status_code == 400 and "Location" not in page.headers


def test_an_app_must_use_pkce(gw):
    client_id = app_id(gw.url)
    query = authorize_query(client_id, "x" * 43)
    del query["code_challenge"], query["code_challenge_method"]
    page = requests.get(gw.url + "/oauth/authorize", params=query, timeout=10, allow_redirects=False)
    assert page.status_code == 302 and "error=invalid_request" in page.headers["Location"]


# -- connected apps and disconnecting ---------------------------------------------------------------
def test_the_patient_sees_the_apps_they_approved_and_disconnecting_one_stops_its_tokens_at_once(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id)
    portal = portal_token(gw.url)
    listed = requests.get(gw.url + "/patient/v1/apps", headers=bearer(portal), timeout=10)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == client_id and item["name"] == "Step Counter" and item["reads"] == ["*"]
    assert item["last_used_at"] is not None
    gone = requests.delete(f"{gw.url}/patient/v1/apps/{client_id}", headers=bearer(portal), timeout=10)
    assert gone.status_code == 204
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 401
    refreshed = requests.post(gw.url + "/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
        timeout=10)
    assert refreshed.status_code == 400 and "access_token" not in refreshed.json()
    revoked = requests.get(gw.url + "/oauth/revoked", timeout=10).json()["revoked"]
    assert unverified_claims(tokens["access_token"])["jti"] in {r["jti"] for r in revoked}
    assert requests.get(gw.url + "/patient/v1/apps", headers=bearer(portal), timeout=10).json()["items"] == []


def test_an_app_cannot_list_or_disconnect_apps_and_another_patient_cannot_disconnect_yours(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id)
    as_app = requests.get(gw.url + "/patient/v1/apps", headers=bearer(tokens["access_token"]), timeout=10)
    assert as_app.status_code == 403
    assert as_app.headers["Content-Type"].startswith("application/problem+json")
    make_patient(_engine(gw), username="bea", patient="p-2")
    other = portal_token(gw.url, "bea")
    gone = requests.delete(f"{gw.url}/patient/v1/apps/{client_id}", headers=bearer(other), timeout=10)
    assert gone.status_code == 404
    assert _count(gw, schema.app_approvals) == 1
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 200


def test_a_revoked_app_token_is_refused_by_userinfo(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id)
    done = requests.post(gw.url + "/oauth/revoke", data={"token": tokens["access_token"],
                                                         "client_id": client_id}, timeout=10)
    assert done.status_code == 200
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 401


def test_userinfo_needs_the_openid_scope(gw):
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url, scope="launch/patient patient/*.rs")
    tokens = app_tokens(gw.url, client_id, scope="launch/patient patient/*.rs")
    assert "id_token" not in tokens
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 403


def test_discovery_advertises_registration_userinfo_and_the_patient_app_capabilities(gw):
    conf = requests.get(gw.url + "/.well-known/smart-configuration", timeout=10).json()
    assert conf["registration_endpoint"] == gw.url + "/oauth/register"
    assert conf["userinfo_endpoint"] == gw.url + "/oauth/userinfo"
    assert {"launch-standalone", "context-standalone-patient", "client-public",
            "client-confidential-asymmetric", "permission-v2", "sso-openid-connect",
            "permission-patient"} <= set(conf["capabilities"])
    assert "client-confidential-symmetric" not in conf["capabilities"]  # an app never gets a secret
    assert {"launch/patient", "openid", "fhirUser", "patient/*.rs"} <= set(conf["scopes_supported"])
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert {"none", "private_key_jwt"} <= set(conf["token_endpoint_auth_methods_supported"])


# -- the portal's Connected apps page ----------------------------------------------------------------
def test_the_connected_apps_page_lists_the_app_and_its_disconnect_button_stops_it(gw):
    from tests.support.portal import forms, signed_in
    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url, client_name="Sugar Diary <b>")
    tokens = app_tokens(gw.url, client_id)
    browser = signed_in(gw.url, "ana", PASSWORD)
    listed = browser.get(gw.url + "/portal/apps", timeout=10)
    assert listed.status_code == 200, listed.text
    assert "Sugar Diary &lt;b&gt;" in listed.text and "<script" not in listed.text
    assert 'href="/portal/apps" aria-current="page"' in listed.text
    assert "Everything in your health record" in listed.text
    [form] = [f for f in forms(listed) if f["action"].endswith("/disconnect")]
    assert form["action"] == f"{gw.url}/portal/apps/{client_id}/disconnect"
    forged = browser.post(form["action"], data={"csrf_token": "wrong"}, timeout=10)
    assert forged.status_code == 400 and _count(gw, schema.app_approvals) == 1
    done = browser.post(form["action"], data=form["fields"], timeout=10)
    assert done.status_code == 200 and "You have not connected any apps." in done.text
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 401
    spanish = signed_in(gw.url, "ana", PASSWORD, "es").get(gw.url + "/portal/apps", timeout=10)
    assert spanish.status_code == 200 and "Aplicaciones conectadas" in spanish.text


def test_a_caregiver_cannot_connect_an_app_to_the_patients_record(client, engine):
    from tests.support.gateway import caregiver, hidden_fields
    caregiver(client, engine)  # ana invites carla, who joins
    resp = client.post("/oauth/register", json={"client_name": "Step Counter", "redirect_uris": [APP_REDIRECT]})
    assert resp.status_code == 201, resp.json
    _verifier, challenge = pkce()
    page = client.get("/oauth/authorize", query_string=authorize_query(resp.json["client_id"], challenge))
    refused = client.post("/oauth/authorize", data={**hidden_fields(page.get_data(as_text=True)),
                                                     "username": "carla", "password": PASSWORD})
    assert refused.status_code == 403 and 'value="allow"' not in refused.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.app_approvals)).scalar() == 0


# -- the conformance kit's patient-app checks ---------------------------------------------------------
def test_the_conformance_kit_passes_the_patient_app_checks_against_the_gateway(gw):
    from contracts.conformance import apps as kit
    from contracts.conformance.client import Gateway
    from contracts.conformance.context import Context, patient
    make_patient(_engine(gw), patient="p-1")
    portal = {"client_id": "phr-portal", "redirect_uri": gw.url + "/portal/callback"}
    ctx = Context(Gateway(gw.url), spec="", identities={"patient": patient(gw.url, "A", portal, "ana", PASSWORD)})
    results = kit.run(ctx)
    assert [(r.name, r.outcome, r.message) for r in results if r.outcome != "passed"] == []
    assert all(r.cases == 4 for r in results)
    assert _count(gw, schema.app_approvals) == 0  # disconnected at the end


def test_an_operator_lists_the_apps_and_blocking_one_stops_its_tokens_and_its_sign_ins(
        gw, database_url, monkeypatch, capsys):
    import json

    from gateway.admin.clients import main as admin

    make_patient(_engine(gw), patient="p-1")
    client_id = app_id(gw.url)
    tokens = app_tokens(gw.url, client_id)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    assert admin(["apps"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["client_id"] == client_id and listed["patients"] == 1 and listed["disabled_at"] is None
    assert listed["last_used_at"] is not None and listed["registered_from"]
    assert admin(["app-block", client_id]) == 0
    assert json.loads(capsys.readouterr().out) == {"client_id": client_id, "blocked": True}
    info = requests.get(gw.url + "/oauth/userinfo", headers=bearer(tokens["access_token"]), timeout=10)
    assert info.status_code == 401
    refreshed = requests.post(gw.url + "/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id},
        timeout=10)
    assert refreshed.status_code in (400, 401) and "access_token" not in refreshed.json()
    assert _count(gw, schema.app_approvals) == 0
    portal = portal_token(gw.url)
    assert requests.get(gw.url + "/patient/v1/apps", headers=bearer(portal), timeout=10).json()["items"] == []
    again = requests.get(gw.url + "/oauth/authorize", params=authorize_query(client_id, pkce()[1]),
                         timeout=10, allow_redirects=False)
    assert again.status_code == 400 and "code=" not in again.headers.get("Location", "")
    assert admin(["apps"]) == 0 and json.loads(capsys.readouterr().out)[0]["disabled_at"] is not None


def test_an_operator_cannot_block_what_is_not_a_patients_app(gw, database_url, monkeypatch, capsys):
    from gateway.admin.clients import main as admin

    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    assert admin(["app-block", "phr-portal"]) == 2
    assert "No app 'phr-portal'" in capsys.readouterr().err
    with _engine(gw).connect() as conn:
        assert conn.execute(sa.select(schema.clients.c.disabled_at)
                            .where(schema.clients.c.client_id == "phr-portal")).scalar() is None
