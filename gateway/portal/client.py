"""The portal's HTTP client of the public API: OAuth 2.0 with PKCE, then /patient/v1 as any app.

The portal runs inside the gateway process but takes no shortcut: it calls the gateway's own
public URL over HTTP with the patient's bearer token, exactly as a third-party patient app would
(RFC 6749 section 4.1, RFC 7636 S256, RFC 7009 on sign-out). The one thing it adds is the
visitor's address, signed (gateway/accounts/forwarded.py), so that the API's limits per client count
each visitor apart instead of the portal as one client.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from contracts.http import FHIR_ID_RE
from gateway.authz.departments import PORTAL_CLIENT_ID, PORTAL_SCOPES
from gateway.accounts.forwarded import AddressVoucher


def path_id(value: str) -> bool:
    """Whether VALUE, taken from a page's URL or form, may go into an API path as one segment:
    a FHIR id (contracts.http.FHIR_ID_RE: letters, digits, '-' and '.'), but never '.' or '..',
    which an HTTP client would resolve into the path above. Every item id of the API fits."""
    return bool(FHIR_ID_RE.fullmatch(value or "")) and value not in (".", "..")


class ApiError(Exception):
    """The API answered with a problem (RFC 9457) or could not be reached."""

    def __init__(self, status: int, problem: dict | None = None):
        super().__init__(status)
        self.status, self.problem = status, problem or {}

    @property
    def fields(self) -> list[str]:
        return [f for f in self.problem.get("fields") or [] if isinstance(f, str)]

    def text(self) -> str:
        """The problem's explanation and next step, as one plain paragraph."""
        parts = [self.problem.get("detail") or self.problem.get("title") or "",
                 self.problem.get("next_step") or ""]
        return " ".join(p.strip() for p in parts if p and p.strip())


class SignedOut(Exception):
    """The patient's tokens are gone or no longer work: they must sign in again."""


@dataclass
class Pkce:
    """One sign-in attempt: the state and the code verifier kept until the callback."""

    state: str
    verifier: str

    @classmethod
    def new(cls) -> "Pkce":
        return cls(secrets.token_urlsafe(16), secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        """S256 code challenge (RFC 7636 section 4.2)."""
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def claims_of(access_token: str) -> dict:
    """Read a JWT access token's claims without checking them (display only; the API checks)."""
    try:
        payload = access_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class Portal:
    """The portal as an OAuth public client of BASE (the gateway's public URL)."""

    def __init__(self, base: str, voucher: AddressVoucher, timeout: float = 15.0,
                 client_id: str = PORTAL_CLIENT_ID, scopes: str = PORTAL_SCOPES,
                 callback: str = "/portal/callback"):
        self.base = base.rstrip("/")
        self.voucher = voucher
        # the staff console is the same kind of client with its own id (gateway/portal/console.py)
        self.client_id, self.scopes = client_id, scopes
        self.redirect_uri = self.base + callback
        self.timeout = timeout
        self.http = requests.Session()

    # OAuth ----------------------------------------------------------------------------------
    def authorize_url(self, pkce: Pkce) -> str:
        """Return where to send the browser to sign in (RFC 6749 section 4.1.1)."""
        return self.base + "/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "scope": self.scopes, "state": pkce.state,
            "code_challenge": pkce.challenge, "code_challenge_method": "S256"})

    def exchange_code(self, code: str, pkce: Pkce) -> dict:
        """Trade the authorization code for tokens (RFC 6749 section 4.1.3)."""
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": self.redirect_uri, "code_verifier": pkce.verifier})

    def refresh(self, refresh_token: str) -> dict:
        """Get new tokens with the refresh token (RFC 6749 section 6)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, token: str) -> None:
        """Revoke a refresh token and the sign-in it belongs to (RFC 7009 section 2.1)."""
        try:
            self.http.post(self.base + "/oauth/revoke", timeout=self.timeout, data={
                "token": token, "token_type_hint": "refresh_token", "client_id": self.client_id})
        except requests.RequestException:
            pass  # the session is cleared anyway; the token expires on its own

    def _token(self, data: dict) -> dict:
        try:
            resp = self.http.post(self.base + "/oauth/token", timeout=self.timeout,
                                  data={**data, "client_id": self.client_id})
        except requests.RequestException:
            raise ApiError(502) from None
        if resp.status_code != 200:
            raise SignedOut(resp.status_code)
        body = resp.json()
        body["expires_at"] = time.time() + int(body.get("expires_in", 60))
        return body

    # the patient API ----------------------------------------------------------------------------
    def call(self, method: str, path: str, access_token: str, lang: str, **kw) -> dict:
        """Call PATH with the patient's token in LANG; return the JSON body or raise. Headers
        given in KW (If-Match, say) are sent too; the token and the language are always these."""
        headers = {**(kw.pop("headers", None) or {}), "Authorization": f"Bearer {access_token}",
                   "Accept-Language": lang, "Accept": "application/json"}
        try:
            resp = self.http.request(method, self.base + path, headers=headers,
                                     timeout=self.timeout, **kw)
        except requests.RequestException:
            raise ApiError(502) from None
        if resp.status_code == 401:
            raise SignedOut(401)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, body if isinstance(body, dict) else {})
        return body

    def public(self, method: str, path: str, lang: str, client_address: str, **kw) -> dict:
        """Call a public endpoint that needs no token (account activation) for the visitor
        at CLIENT_ADDRESS."""
        headers = {"Accept-Language": lang, **self.voucher.headers(client_address)}
        try:
            resp = self.http.request(method, self.base + path, timeout=self.timeout,
                                     headers=headers, **kw)
        except requests.RequestException:
            raise ApiError(502) from None
        body = resp.json() if resp.headers.get("Content-Type", "").endswith("json") else {}
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, body)
        return body
