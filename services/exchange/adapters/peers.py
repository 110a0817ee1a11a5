"""HTTP peers of the exchange service: the gateway (service token), consent, records."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests


def _thread_session(local: threading.local) -> requests.Session:
    """This thread's keep-alive session to a peer.

    requests.post() opens a new TCP connection per call and looks through the environment for
    proxies each time: about a third of the exchange worker's CPU per request went there.
    One Session per thread, because a Session is not documented as safe to share between
    threads (the worker's consumers and sweeper call peers at the same time).
    """
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
    return session


class PeerUnavailable(Exception):
    """A peer did not answer, or answered 5xx: try again later; never treat it as a permit."""


class PeerRefused(Exception):
    """A peer answered 4xx: asking again the same way will not help."""

    def __init__(self, status: int, body: str):
        super().__init__(f"{status}: {body[:300]}")
        self.status = status


class ServiceToken:
    """A client-credentials access token of the exchange service (RFC 6749 section 4.4), cached."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str = "system/Consent.r",
                 session: requests.Session | None = None, margin: float = 30.0):
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scope, self.margin = scope, margin
        self.session = session or requests.Session()
        self._token, self._until, self._lock = None, 0.0, threading.Lock()

    def __call__(self) -> str:
        """Return a token valid for at least MARGIN seconds more, fetching one when needed."""
        with self._lock:
            if self._token and time.monotonic() < self._until:
                return self._token
            try:
                resp = self.session.post(self.token_url, auth=(self.client_id, self.client_secret),
                                         data={"grant_type": "client_credentials", "scope": self.scope},
                                         timeout=5)
            except requests.RequestException as exc:
                raise PeerUnavailable(f"gateway: {exc}") from exc
            if resp.status_code >= 500:
                raise PeerUnavailable(f"gateway: {resp.status_code}")
            if resp.status_code != 200:
                raise PeerRefused(resp.status_code, resp.text)
            body = resp.json()
            self._token = body["access_token"]
            self._until = time.monotonic() + max(float(body.get("expires_in", 300)) - self.margin, 1.0)
            return self._token


@dataclass
class ConsentClient:
    """Ask the consent service for a fresh decision (POST /consent/v1/decisions)."""

    base_url: str
    token: object  # a zero-argument callable returning a bearer token (ServiceToken)
    session: requests.Session | None = None
    timeout: float = 5.0
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def decide(self, patient: str, actor: str, purpose: str, classes: list[str],
               bearer: str | None = None) -> dict:
        """Return the decision; raise PeerUnavailable or PeerRefused. BEARER overrides the service token."""
        session = self.session or _thread_session(self._local)
        try:
            resp = session.post(f"{self.base_url}/consent/v1/decisions", timeout=self.timeout,
                                headers={"Authorization": f"Bearer {bearer or self.token()}"},
                                json={"patient": patient, "actor": actor, "purpose": purpose,
                                      "classes": list(classes)})
        except requests.RequestException as exc:
            raise PeerUnavailable(f"consent: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise PeerUnavailable(f"consent: {resp.status_code}")
        if resp.status_code != 200:
            raise PeerRefused(resp.status_code, resp.text)
        body = resp.json()
        if body.get("decision") not in ("permit", "deny"):
            raise PeerUnavailable("consent: an answer without a decision")
        return body


@dataclass
class RecordsClient:
    """Fetch a prepared Bundle by its claim-check reference, with the caller's own token."""

    base_url: str
    timeout: float = 10.0
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def bundle(self, ref: str, bearer: str) -> requests.Response:
        try:
            return _thread_session(self._local).get(f"{self.base_url}/internal/v1/bundles/{ref}", timeout=self.timeout,
                                headers={"Authorization": f"Bearer {bearer}"})
        except requests.RequestException as exc:
            raise PeerUnavailable(f"records: {exc}") from exc
