"""Helpers for patients' own apps over real HTTP: register (RFC 7591), sign in and approve on the
HTML pages, exchange the code; a confidential app's key and client assertion (RFC 7523)."""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.gateway import PASSWORD, hidden_fields, pkce

APP_REDIRECT = "https://app.example/callback"
APP_SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


def register(url: str, **body) -> requests.Response:
    body = {"client_name": "Step Counter", "redirect_uris": [APP_REDIRECT],
            "token_endpoint_auth_method": "none", "scope": APP_SCOPE, **body}
    return requests.post(url + "/oauth/register", json=body, timeout=10)


def app_id(url: str, **body) -> str:
    resp = register(url, **body)
    assert resp.status_code == 201, resp.text
    return resp.json()["client_id"]


def authorize_query(client_id: str, challenge: str, scope: str = APP_SCOPE, **extra) -> dict:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": APP_REDIRECT,
            "scope": scope, "state": "s-1", "code_challenge": challenge,
            "code_challenge_method": "S256", **extra}


def approval_page(url: str, query: dict, username: str = "ana",
                  password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    """Open the authorize link and sign in; return the browser and the approval page."""
    browser = requests.Session()
    page = browser.get(url + "/oauth/authorize", params=query, timeout=10, allow_redirects=False)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    approval = browser.post(url + "/oauth/authorize", data={**form, "username": username,
                                                            "password": password},
                            timeout=10, allow_redirects=False)
    return browser, approval


def decide(url: str, browser: requests.Session, approval: requests.Response, decision: str,
           redirect: str = APP_REDIRECT) -> dict:
    """Press Approve ("allow") or Deny ("deny"); return the redirect's query."""
    assert approval.status_code == 200, approval.text
    done = browser.post(url + "/oauth/authorize", data={**hidden_fields(approval.text),
                                                        "decision": decision},
                        timeout=10, allow_redirects=False)
    assert done.status_code == 302, done.text
    location = done.headers["Location"]
    assert location.startswith(redirect + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def app_tokens(url: str, client_id: str, scope: str = APP_SCOPE, username: str = "ana",
               assertion: str | None = None, **extra) -> dict:
    """The whole standalone launch: approve, then exchange the code with PKCE."""
    verifier, challenge = pkce()
    browser, approval = approval_page(url, authorize_query(client_id, challenge, scope, **extra), username)
    code = decide(url, browser, approval, "allow")["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
            "client_id": client_id, "code_verifier": verifier}
    if assertion:
        form.update(client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    client_assertion=assertion)
    resp = requests.post(url + "/oauth/token", data=form, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def portal_token(url: str, username: str = "ana") -> str:
    """The portal's access token for USERNAME, through the same pages (the portal's client)."""
    callback = url + "/portal/callback"
    verifier, challenge = pkce()
    query = {"response_type": "code", "client_id": "phr-portal", "redirect_uri": callback,
             "scope": "openid fhirUser offline_access patient/*.rs patient/Consent.cruds", "state": "s-1",
             "code_challenge": challenge, "code_challenge_method": "S256"}
    browser, approval = approval_page(url, query, username)
    code = decide(url, browser, approval, "allow", callback)["code"]
    resp = requests.post(url + "/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback,
        "client_id": "phr-portal", "code_verifier": verifier}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def app_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"alg": "RS384", "use": "sig"}, auto_kid=True)


def client_assertion(key: RSAKey, client_id: str, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "exp": now + 240, "iat": now,
              "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": "RS384", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS384"])
