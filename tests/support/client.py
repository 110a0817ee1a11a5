"""A small API client, used by the e2e tests as a department or a patient app would."""
from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import requests


class Department:
    """A department client: client credentials with client_secret_basic."""

    def __init__(self, gateway: str, client_id: str, client_secret: str, scope: str | None = None):
        self.gateway, self.session = gateway, requests.Session()
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        resp = self.session.post(f"{gateway}/oauth/token", data=data, auth=(client_id, client_secret), timeout=10)
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.gateway + path, timeout=30, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.gateway + path, timeout=60, **kw)


class _FormReader(HTMLParser):
    """Read the first form of a page as a browser would submit it: action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._in_form = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self._in_form = a.get("action") or "", True
        elif tag == "input" and self._in_form and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _submit(session: requests.Session, page: requests.Response, values: dict) -> requests.Response:
    form = _FormReader()
    form.feed(page.text)
    assert form.action is not None, f"no form on {page.url}"
    return session.post(urljoin(page.url, form.action), data={**form.fields, **values},
                        allow_redirects=False, timeout=10)


def patient_login(gateway: str, client_id: str, redirect_uri: str, username: str, password: str,
                  scope: str = "openid fhirUser offline_access patient/*.rs") -> dict:
    """Sign in through the HTML login form with authorization code + PKCE S256; return the token response."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(8)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
              "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    s = requests.Session()
    page = s.get(f"{gateway}/oauth/authorize", params=params, timeout=10)
    page.raise_for_status()
    resp = _submit(s, page, {"username": username, "password": password})
    if resp.status_code == 200 and 'name="decision"' in resp.text:
        resp = _submit(s, resp, {"decision": "allow"})
    assert resp.status_code in (302, 303), f"login did not redirect: {resp.status_code} {resp.text[:300]}"
    query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert query.get("state") == [state]
    token = s.post(f"{gateway}/oauth/token", data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier}, timeout=10)
    token.raise_for_status()
    return token.json()


PORTAL_SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds"


def demo_patient_headers(stack, index: int, scope: str = PORTAL_SCOPE) -> tuple[dict, dict]:
    """Sign demo patient INDEX of STACK in through the portal; return (their credentials, auth headers)."""
    creds = stack.credentials()
    who, portal = creds["patients"][index], creds["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"],
                          who["username"], who["password"], scope=scope)
    return who, {"Authorization": f"Bearer {token['access_token']}"}


def demo_departments(stack) -> dict[str, Department]:
    """Return a signed-in client for every demo department of STACK."""
    return {name: Department(stack.gateway, d["client_id"], d["client_secret"])
            for name, d in stack.credentials()["departments"].items()}
