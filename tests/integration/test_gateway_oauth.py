"""The authorization server end to end: real keys, real tokens, real SQLite."""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey

from gateway.admin.clients import ensure_portal_client, register_department_jwks
from services.common.auth import JwksCache, TokenValidator
from services.common.problem import Problem
from tests.support.gateway import (ISSUER, REDIRECT_URI, authorize_params, basic, bearer, department, department_token,
                                   hidden_fields, login_for_code, make_account, patient_tokens, pkce)


def validator_for(client) -> TokenValidator:
    """The services' own validator, fetching the JWKS from the gateway under test."""
    cache = JwksCache(ISSUER + "/oauth/jwks", fetch=lambda url: client.get(urlsplit(url).path).json)
    return TokenValidator(ISSUER, ISSUER, cache)


def assertion(key, client_id: str, aud: str = ISSUER + "/oauth/token", alg="RS384", **extra) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 240,
              "jti": str(uuid.uuid4()), **extra}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def private_key_jwt_form(token: str) -> dict:
    return {"grant_type": "client_credentials", "scope": "system/Patient.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": token}


def test_a_department_gets_a_token_with_client_secret_basic_that_the_services_accept(client, engine):
    creds = department(engine, "cardiology")
    token = department_token(client, creds)
    claims = validator_for(client).validate(token)
    header = jws.extract_compact(token.encode()).headers()
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    assert header["kid"] == client.get("/oauth/jwks").json["keys"][0]["kid"]
    assert claims["dept"] == "cardiology" and claims["sub"] == "cardiology"
    assert claims["client_id"] == "cardiology" and claims["aud"] == ISSUER
    assert claims["scope"] == "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd"
    assert claims["exp"] - claims["iat"] == 5 * 60
    assert "patient" not in claims


def test_a_wrong_client_secret_is_refused(client, engine):
    department(engine, "cardiology")
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers=basic("cardiology", "not-the-secret"))
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_client"


def test_a_department_gets_only_the_requested_scopes_it_may_have(client, engine):
    creds = department(engine, "research")
    token = department_token(client, creds, scope="system/Exchange.c system/Patient.r")
    assert validator_for(client).validate(token)["scope"] == "system/Exchange.c"
    refused = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                "scope": "system/Patient.r"},
                          headers=basic(creds["client_id"], creds["client_secret"]))
    assert refused.status_code == 400 and refused.json["error"] == "invalid_scope"


@pytest.mark.parametrize("make_key,alg", [
    (lambda: RSAKey.generate_key(2048, auto_kid=True), "RS384"),
    (lambda: ECKey.generate_key("P-384", auto_kid=True), "ES384"),
])
def test_a_department_gets_a_token_with_private_key_jwt(client, engine, make_key, alg):
    department(engine, "emergency")
    key = make_key()
    register_department_jwks(engine, "emergency", {"keys": [key.as_dict(private=False)]})
    form = private_key_jwt_form(assertion(key, "emergency", alg=alg))
    resp = client.post("/oauth/token", data=form)
    assert resp.status_code == 200, resp.json
    claims = validator_for(client).validate(resp.json["access_token"])
    assert claims["dept"] == "emergency" and claims["scope"] == "system/Patient.rs"
    replay = client.post("/oauth/token", data=form)
    assert replay.status_code in (400, 401) and replay.json["error"] == "invalid_client"


def test_a_client_assertion_signed_by_an_unregistered_key_or_for_another_audience_is_refused(client, engine):
    department(engine, "emergency")
    registered = RSAKey.generate_key(2048, auto_kid=True)
    register_department_jwks(engine, "emergency", {"keys": [registered.as_dict(private=False)]})
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    for token in (assertion(stranger, "emergency"),
                  assertion(registered, "emergency", aud="https://elsewhere.example/token")):
        resp = client.post("/oauth/token", data=private_key_jwt_form(token))
        assert resp.status_code in (400, 401) and resp.json["error"] == "invalid_client"


def test_a_patient_signs_in_through_the_html_form_with_pkce_and_gets_patient_tokens(client, engine):
    make_account(engine, patient="p-42")
    tokens = patient_tokens(client, engine)
    claims = validator_for(client).validate(tokens["access_token"])
    assert claims["patient"] == "p-42" and claims["fhirUser"] == "Patient/p-42"
    assert claims["client_id"] == "phr-portal" and "dept" not in claims
    assert set(claims["scope"].split()) == {"openid", "fhirUser", "offline_access", "patient/*.rs"}
    assert tokens["refresh_token"] and tokens["patient"] == "p-42"


def test_the_login_page_is_accessible_html_without_scripts(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    page = client.get("/oauth/authorize", query_string=authorize_params(pkce()[1]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<html lang="en">' in html and "<script" not in html
    assert '<label for="username">' in html and '<label for="password">' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert page.headers["X-Frame-Options"] == "DENY"


def test_wrong_credentials_re_render_the_form_with_an_error_next_to_the_field(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    make_account(engine)
    page = client.get("/oauth/authorize", query_string=authorize_params(pkce()[1]))
    form = hidden_fields(page.get_data(as_text=True))
    for username, password in (("ana", "wrong password"), ("nobody", "whatever123"), ("", "")):
        resp = client.post("/oauth/authorize", data={**form, "username": username, "password": password})
        html = resp.get_data(as_text=True)
        assert 400 <= resp.status_code < 500
        assert 'id="password-error"' in html and 'aria-invalid="true"' in html
        assert "Location" not in resp.headers


def test_repeated_wrong_passwords_make_the_next_try_wait(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    make_account(engine)
    form = hidden_fields(client.get("/oauth/authorize",
                                    query_string=authorize_params(pkce()[1])).get_data(as_text=True))
    for _ in range(5):
        client.post("/oauth/authorize", data={**form, "username": "ana", "password": "wrong-wrong"})
    resp = client.post("/oauth/authorize",
                       data={**form, "username": "ana", "password": "correct horse battery"})
    assert resp.status_code == 429 and "Too many tries to sign in" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("challenge,method", [(None, None), (None, "S256"), ("x" * 43, "plain"),
                                              ("x" * 43, None)])
def test_an_authorization_request_without_an_s256_challenge_is_refused(client, engine, challenge, method):
    ensure_portal_client(engine, [REDIRECT_URI])
    resp = client.get("/oauth/authorize", query_string=authorize_params(challenge, method))
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query


def test_an_unknown_redirect_uri_gets_an_error_page_not_a_redirect(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    params = {**authorize_params(pkce()[1]), "redirect_uri": "https://evil.example/cb"}
    resp = client.get("/oauth/authorize", query_string=params)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "<html lang=" in resp.get_data(as_text=True)


def test_implicit_and_password_grants_are_not_offered(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    make_account(engine)
    implicit = client.get("/oauth/authorize",
                          query_string={**authorize_params(pkce()[1]), "response_type": "token"})
    assert implicit.status_code == 302
    assert "error=unsupported_response_type" in implicit.headers["Location"]
    password = client.post("/oauth/token", data={"grant_type": "password", "username": "ana",
                                                 "password": "correct horse battery",
                                                 "client_id": "phr-portal"})
    assert password.status_code == 400 and password.json["error"] == "unsupported_grant_type"


def test_the_code_needs_the_right_verifier_and_works_once(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    make_account(engine)
    verifier, challenge = pkce()
    code = login_for_code(client, authorize_params(challenge))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": "phr-portal"}
    missing = client.post("/oauth/token", data=form)
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"
    wrong = client.post("/oauth/token", data={**form, "code_verifier": pkce()[0]})
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_grant"
    ok = client.post("/oauth/token", data={**form, "code_verifier": verifier})
    assert ok.status_code == 200
    again = client.post("/oauth/token", data={**form, "code_verifier": verifier})
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_a_denied_approval_redirects_with_access_denied(client, engine):
    ensure_portal_client(engine, [REDIRECT_URI])
    make_account(engine)
    page = client.get("/oauth/authorize", query_string=authorize_params(pkce()[1]))
    form = hidden_fields(page.get_data(as_text=True))
    approval = client.post("/oauth/authorize", data={**form, "username": "ana",
                                                     "password": "correct horse battery"})
    fields = hidden_fields(approval.get_data(as_text=True))
    resp = client.post("/oauth/authorize", data={**fields, "decision": "deny"})
    assert resp.status_code == 302 and "error=access_denied" in resp.headers["Location"]


def test_refresh_rotates_the_refresh_token_and_a_reused_one_ends_the_login(client, engine):
    make_account(engine)
    first = patient_tokens(client, engine)
    form = {"grant_type": "refresh_token", "client_id": "phr-portal"}
    second = client.post("/oauth/token", data={**form, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.json
    assert second.json["refresh_token"] != first["refresh_token"]
    assert validator_for(client).validate(second.json["access_token"])["patient"] == "p-1"
    reused = client.post("/oauth/token", data={**form, "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400 and reused.json["error"] == "invalid_grant"
    # the reuse revoked the whole chain, including the newest refresh token
    newest = client.post("/oauth/token", data={**form, "refresh_token": second.json["refresh_token"]})
    assert newest.status_code == 400


def test_no_refresh_token_without_offline_access(client, engine):
    make_account(engine)
    tokens = patient_tokens(client, engine, scope="openid fhirUser patient/*.rs")
    assert "refresh_token" not in tokens


def test_a_revoked_access_token_is_inactive_and_the_proxy_refuses_it(client, engine, upstream):
    creds = department(engine, "cardiology")
    token = department_token(client, creds)
    auth = basic(creds["client_id"], creds["client_secret"])
    active = client.post("/oauth/introspect", data={"token": token}, headers=auth)
    assert active.status_code == 200 and active.json["active"] is True
    assert active.json["dept"] == "cardiology" and active.json["jti"]
    assert client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code == 200

    assert client.post("/oauth/revoke", data={"token": token}, headers=auth).status_code == 200
    assert client.post("/oauth/introspect", data={"token": token},
                       headers=auth).json == {"active": False}
    refused = client.get("/fhir/Patient/p-1", headers=bearer(token))
    assert refused.status_code == 401 and refused.mimetype == "application/fhir+json"
    assert "invalid_token" in refused.headers["WWW-Authenticate"]
    assert len(upstream.requests) == 1


def test_introspection_needs_client_authentication(client, engine):
    creds = department(engine, "cardiology")
    token = department_token(client, creds)
    resp = client.post("/oauth/introspect", data={"token": token})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"


def test_a_patient_revokes_the_refresh_token_and_the_login_ends(client, engine):
    make_account(engine)
    tokens = patient_tokens(client, engine)
    resp = client.post("/oauth/revoke", data={"token": tokens["refresh_token"],
                                              "token_type_hint": "refresh_token",
                                              "client_id": "phr-portal"})
    assert resp.status_code == 200
    refresh = client.post("/oauth/token", data={"grant_type": "refresh_token", "client_id": "phr-portal",
                                                "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400
    assert client.get("/patient/v1/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_the_smart_configuration_has_the_fields_smart_app_launch_2_requires(client):
    doc = client.get("/.well-known/smart-configuration").json
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == ISSUER + "/oauth/jwks"
    assert doc["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert doc["token_endpoint"] == ISSUER + "/oauth/token"
    assert doc["introspection_endpoint"] == ISSUER + "/oauth/introspect"
    assert doc["revocation_endpoint"] == ISSUER + "/oauth/revoke"
    assert set(doc["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert {"private_key_jwt", "client_secret_basic"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert {"RS384", "ES384"} <= set(doc["token_endpoint_auth_signing_alg_values_supported"])
    assert {"patient/*.rs", "system/*.rs", "offline_access"} <= set(doc["scopes_supported"])
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-standalone", "client-public", "permission-v2"} <= set(doc["capabilities"])


def test_a_token_from_another_key_is_refused_by_the_services_validator(client):
    other = RSAKey.generate_key(2048, auto_kid=True)
    now = int(time.time())
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": other.kid},
                        {"iss": ISSUER, "aud": ISSUER, "sub": "x", "client_id": "x", "jti": "j",
                         "exp": now + 60}, other)
    with pytest.raises(Problem) as refused:
        validator_for(client).validate(forged)
    assert refused.value.status == 401
