"""A small API client, used by the e2e tests as a department or a patient app would."""
from __future__ import annotations

import time

import requests

from contracts.conformance import client as conformance_client


class Department:
    """A department client: client credentials with client_secret_basic."""

    def __init__(self, gateway: str, client_id: str, client_secret: str, scope: str | None = None):
        self.gateway, self.client_id, self.session = gateway, client_id, requests.Session()
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        resp = self.session.post(f"{gateway}/oauth/token", data=data, auth=(client_id, client_secret), timeout=10)
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, **kw) -> requests.Response:
        """GET PATH on the gateway, or an absolute URL the API gave (a FHIR `next` link)."""
        url = path if path.startswith(("http://", "https://")) else self.gateway + path
        return self.session.get(url, timeout=30, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.gateway + path, timeout=60, **kw)

    def wait_until_done(self, request_id: str, timeout: float = 30.0) -> dict:
        """Poll exchange request REQUEST_ID until it leaves 'pending' (or TIMEOUT); return its status."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/exchange/v1/requests/{request_id}").json()
            if status["status"] != "pending" or time.monotonic() > deadline:
                return status
            time.sleep(0.1)


def patient_login(gateway: str, client_id: str, redirect_uri: str, username: str, password: str,
                  scope: str = "openid fhirUser offline_access patient/*.rs") -> dict:
    """Sign in through the HTML login form with authorization code + PKCE S256; return the token response."""
    # The conformance kit signs patients in the same way, as any client of the deployment would.
    return conformance_client.patient_login(gateway, client_id, redirect_uri, username, password, scope=scope)


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
