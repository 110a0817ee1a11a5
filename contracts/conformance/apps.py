"""A patient's own app (SMART App Launch 2), as a third party would use the deployment: it
registers (RFC 7591), may not register more than patient read scopes, is approved by patient A
on the HTML pages, gets a token that keeps to patient A's compartment and reads, and stops
working at once when patient A disconnects it."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from contracts.conformance.client import _FormReader, claims_of, send
from contracts.conformance.context import Context
from contracts.conformance.model import Result, Skip, timed

REDIRECT = "https://conformance.invalid/callback"
SCOPE = "launch/patient openid fhirUser patient/*.rs"


def _registration_endpoint(ctx: Context) -> str:
    """Where apps register, as the deployment's SMART discovery says; Skip when it offers none
    (dynamic registration is optional in SMART App Launch: such a deployment registers apps
    its own way, and these checks do not apply)."""
    found = send(requests.Session(), "GET", ctx.gateway.base_url + "/.well-known/smart-configuration")
    endpoint = found.json().get("registration_endpoint") if found.status_code == 200 else None
    if not endpoint:
        raise Skip("the deployment advertises no registration_endpoint in /.well-known/smart-configuration")
    return urljoin(ctx.gateway.base_url + "/", endpoint)


def _register(ctx: Context, **body) -> requests.Response:
    body = {"client_name": "Conformance kit", "redirect_uris": [REDIRECT], "scope": SCOPE, **body}
    return send(requests.Session(), "POST", _registration_endpoint(ctx), json=body)


def _form(page: requests.Response) -> tuple[str, dict]:
    form = _FormReader()
    form.feed(page.text)
    return form.action or "", form.fields


def _approve(ctx: Context, client_id: str, username: str, password: str) -> dict:
    """Sign in as the patient, press Approve, trade the code; return the token response."""
    base = ctx.gateway.base_url
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": SCOPE,
              "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256",
              "aud": base + "/fhir"}
    s = requests.Session()
    page = send(s, "GET", base + "/oauth/authorize", params=params)
    assert page.status_code == 200, f"the sign-in page answered {page.status_code}"
    action, fields = _form(page)
    approval = send(s, "POST", urljoin(page.url, action),
                    data={**fields, "username": username, "password": password}, allow_redirects=False)
    assert approval.status_code == 200 and 'value="allow"' in approval.text, \
        f"no approval page after signing in ({approval.status_code})"
    action, fields = _form(approval)
    done = send(s, "POST", urljoin(approval.url, action), data={**fields, "decision": "allow"},
                allow_redirects=False)
    query = parse_qs(urlparse(done.headers.get("Location", "")).query)
    assert done.status_code == 302 and query.get("code"), f"approving gave no code ({done.status_code})"
    token = send(s, "POST", base + "/oauth/token", data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT,
        "client_id": client_id, "code_verifier": verifier})
    assert token.status_code == 200, f"the code exchange answered {token.status_code}"
    return token.json()


def registration_limits(ctx: Context) -> Result:
    result = Result("security", "a patient's app may register only patient read scopes and https redirects")
    with timed(result):
        for what, body in (("a system scope", {"scope": "openid system/*.rs"}),
                           ("a write scope", {"scope": "openid patient/Observation.c"}),
                           ("a user scope", {"scope": "openid user/*.rs"}),
                           ("a plain http redirect", {"redirect_uris": ["http://conformance.invalid/cb"]})):
            resp = _register(ctx, **body)
            if resp.status_code != 400:
                result.fail(f"registering with {what} answered {resp.status_code}, not 400")
        result.cases = 4
    return result


def app_keeps_to_the_patient(ctx: Context) -> Result:
    result = Result("security", "a patient's app, approved on the pages, keeps to that patient and can be disconnected")
    with timed(result):
        patient = ctx.identity("patient")
        if patient.sign_in is None:
            raise Skip("needs patient A's username and password (a credentials file or options)")
        registered = _register(ctx)
        if registered.status_code == 404:
            raise Skip("the deployment has no /oauth/register")
        assert registered.status_code == 201, f"registering answered {registered.status_code}"
        client_id = registered.json()["client_id"]
        tokens = _approve(ctx, client_id, *patient.sign_in)
        claims = claims_of(tokens["access_token"])
        if tokens.get("patient") != patient.patient or claims.get("patient") != patient.patient:
            result.fail("the app's token is not for the patient who approved it")
        extra = [s for s in claims.get("scope", "").split() if s not in SCOPE.split()]
        if extra:
            result.fail("the app's token has scopes it did not register: " + " ".join(extra))
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        info = ctx.gateway.get("/oauth/userinfo", headers=headers)
        if info.status_code != 200 or info.json().get("patient") != patient.patient:
            result.fail(f"userinfo answered {info.status_code} for the app's token")
        gone = ctx.gateway.delete(f"/patient/v1/apps/{client_id}", patient)
        assert gone.status_code == 204, f"disconnecting answered {gone.status_code}"
        after = ctx.gateway.get("/oauth/userinfo", headers=headers)
        if after.status_code != 401:
            result.fail(f"after Disconnect the app's token still answers {after.status_code}")
        result.cases = 4
    return result


def run(ctx: Context) -> list[Result]:
    return [registration_limits(ctx), app_keeps_to_the_patient(ctx)]
