"""Resource-server side of RFC 9068 JWT access tokens: JWKS cache, validation, Flask guard."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests
from flask import Flask, g, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.common import smart
from services.common.directory import Directory
from services.common.i18n import N_
from services.common.problem import Problem

ALGORITHMS = ["RS256"]
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
log = logging.getLogger(__name__)

#: Clock skew allowed on a token's exp. A revocation must outlive exp by at least this much,
#: or a revoked token would work again in its last LEEWAY_SECONDS (gateway.authz.revocation).
LEEWAY_SECONDS = 30


class JwksCache:
    """Fetch the issuer's JWKS once, refetch after TTL or on an unknown key id (at most every 10 s)."""

    def __init__(self, url: str, ttl: float = 300.0,
                 fetch: Callable[[str], dict] | None = None):
        self.url, self.ttl = url, ttl
        self._fetch = fetch or (lambda u: requests.get(u, timeout=5).json())
        self._keys: KeySet | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, kid: str | None = None) -> KeySet:
        """Return the key set, refreshed when stale or when KID is not in it."""
        now = time.monotonic()
        keys = self._keys
        stale = keys is None or now - self._at > self.ttl
        unknown = keys is not None and kid is not None and not any(k.kid == kid for k in keys.keys)
        if stale or (unknown and now - self._at > 10):
            with self._lock:
                try:
                    self._keys = KeySet.import_key_set(self._fetch(self.url))
                    self._at = now
                except (requests.RequestException, ValueError, JoseError) as exc:
                    if self._keys is None:
                        raise Problem(503, N_("Service Unavailable"),
                                      N_("The token signing keys cannot be fetched right now.")) from exc
        return self._keys


class RevocationFeed:
    """A copy of the gateway's list of revoked access tokens (``GET /oauth/revoked``).

    The first token checked waits for the first copy; after that a thread of this process
    refreshes it every REFRESH seconds, and no request ever waits for the gateway. A request
    must not: the gateway forwards requests here and waits for them, so a service thread that
    called the gateway back while the gateway's threads were all waiting on this service would
    stall both (seen in the bench: a records read at 16 clients through the gateway stopped
    dead). A copy older than MAX_STALENESS, because the gateway cannot be reached, fails closed:
    every token is refused with 503 until a refresh succeeds. So a token revoked at the gateway
    stops working here within REFRESH seconds plus the gateway's own poll (gateway/authz/revocation.py).
    """

    def __init__(self, url: str, refresh: float = 1.0, max_staleness: float = 10.0,
                 timeout: float = 1.0, fetch: Callable[[str, str | None], tuple] | None = None):
        self.url, self.refresh, self.max_staleness, self.timeout = url, refresh, max_staleness, timeout
        self._fetch = fetch or self._get
        self._session = requests.Session()
        self._revoked: dict[str, int] = {}
        self._etag: str | None = None
        self._fetched = float("-inf")
        self._lock = threading.Lock()
        self._refresher: tuple[int, threading.Thread] | None = None  # (pid, thread)
        self._stop = threading.Event()

    def is_revoked(self, jti: str) -> bool:
        """Is JTI revoked? Raises a 503 Problem when the copy is too old to tell."""
        if self._fetched == float("-inf"):
            with self._lock:
                if self._fetched == float("-inf"):
                    self.refresh_now()
        self._ensure_refresher()
        if time.monotonic() - self._fetched > self.max_staleness:
            raise Problem(503, N_("Service Unavailable"),
                          N_("Token revocations cannot be checked right now."),
                          next_step=N_("Try again in a few minutes."), headers={"Retry-After": "5"})
        return jti in self._revoked

    def refresh_now(self) -> bool:
        """Fetch the list once; return whether the copy is now current."""
        started = time.monotonic()
        try:
            etag, revoked = self._fetch(self.url, self._etag)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("revocation list not refreshed from %s: %s", self.url, exc)
            return False
        if revoked is not None:
            self._revoked, self._etag = revoked, etag
        self._fetched = started
        return True

    def close(self) -> None:
        """Stop the refreshing thread (it is a daemon: a process may also just exit)."""
        self._stop.set()

    def _ensure_refresher(self) -> None:
        # Started by the first request, in the process that serves it: a server that forks its
        # workers after building the app would not carry a thread started earlier across.
        current = self._refresher
        if current is not None and current[0] == os.getpid():
            return
        with self._lock:
            if self._refresher is None or self._refresher[0] != os.getpid():
                thread = threading.Thread(target=self._run, name="revocation-feed", daemon=True)
                self._refresher = (os.getpid(), thread)
                thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh):
            self.refresh_now()

    def _get(self, url: str, etag: str | None) -> tuple[str | None, dict | None]:
        """Return (ETag, {jti: exp}) from the gateway, or (ETag, None) when unchanged."""
        resp = self._session.get(url, timeout=self.timeout,
                                 headers={"If-None-Match": etag} if etag else {})
        if resp.status_code == 304:
            return etag, None
        resp.raise_for_status()
        return resp.headers.get("ETag"), {str(r["jti"]): int(r["exp"]) for r in resp.json()["revoked"]}


@dataclass
class TokenValidator:
    """Validate access tokens issued by ISSUER for AUDIENCE (RFC 9068 section 4)."""

    issuer: str
    audience: str
    jwks: JwksCache
    leeway: int = LEEWAY_SECONDS
    cache_size: int = 4096
    #: The gateway's revocations (None in the gateway itself, whose Guard checks its own list).
    revocations: RevocationFeed | None = None
    #: The service's copy of the directory: a token whose ``dept`` is not an active department
    #: there is refused (a disabled department's tokens are also revoked by the gateway; this
    #: holds even if a revocation were missed). None: no check (the gateway owns the directory).
    departments: Directory | None = None

    def __post_init__(self):
        # Verified tokens, kept until they expire: a client reuses one token for many calls,
        # and a signature needs checking only once. Bounded; cleared whole when full.
        self._verified: dict[str, dict] = {}

    def validate(self, raw: str) -> dict:
        """Return the claims of a valid, unrevoked token, else raise a 401 Problem."""
        claims = self._verified.get(raw)
        if claims is None or claims["exp"] + self.leeway <= time.time():
            self._verified.pop(raw, None)
            claims = self._verify(raw)
            if len(self._verified) >= self.cache_size:
                self._verified.clear()
            self._verified[raw] = claims
        if self.revocations is not None and self.revocations.is_revoked(claims["jti"]):
            raise Problem(401, N_("Unauthorized"), N_("The access token was revoked."),
                          next_step=N_("Sign in again."), headers=_challenge("invalid_token"))
        dept = claims.get("dept")
        if dept is not None and self.departments is not None and self.departments.active(dept) is None:
            raise Problem(401, N_("Unauthorized"), N_("This department is not active in the directory."),
                          next_step=N_("Ask your administrator."), headers=_challenge("invalid_token"))
        return claims

    def _verify(self, raw: str) -> dict:
        try:
            header = jws.extract_compact(raw.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            raise Problem(401, N_("Unauthorized"), N_("The access token is not a JWT."),
                          headers=_challenge("invalid_token")) from None
        try:
            token = jwt.decode(raw, self.jwks.get(header.get("kid")), algorithms=ALGORITHMS)
            if str(token.header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
                raise Problem(401, N_("Unauthorized"), N_("The token is not an access token."),
                              headers=_challenge("invalid_token"))
            jwt.JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True}, sub={"essential": True},
                client_id={"essential": True}, jti={"essential": True},
            ).validate(token.claims)
        except Problem:
            raise
        except (JoseError, ValueError, TypeError) as exc:
            raise Problem(401, N_("Unauthorized"), N_("The access token is not valid or has expired."),
                          headers=_challenge("invalid_token")) from exc
        return token.claims


def _challenge(error: str | None = None) -> dict:
    value = 'Bearer realm="phr"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def bearer_token() -> str:
    """Return the bearer token of the current request or raise a 401 Problem (RFC 6750 section 2.1)."""
    return parse_bearer(request.headers.get("Authorization", ""))


def parse_bearer(header: str) -> str:
    """Return the token of an Authorization HEADER value or raise a 401 Problem."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, N_("Unauthorized"), N_("This request needs a bearer access token."),
                      headers=_challenge())
    return token.strip()


def protect(app: Flask, validator: TokenValidator, open_paths: tuple[str, ...] = ()) -> None:
    """Require a valid access token on every route of APP except the ops endpoints and OPEN_PATHS."""
    public = frozenset(OPEN_PATHS + tuple(open_paths))

    @app.before_request
    def _authenticate():
        if request.path in public:
            return None
        g.claims = validator.validate(bearer_token())
        return None


def require_scope(context: str, resource: str, interactions: str, claims: dict | None = None) -> dict:
    """Return CLAIMS (default: the current request's) if their scopes allow the interactions,
    else raise 403."""
    claims = g.claims if claims is None else claims
    if not smart.allows(claims.get("scope", ""), context, resource, interactions):
        raise Problem(403, N_("Forbidden"), N_("The access token's scopes do not allow this request."),
                      headers=_challenge("insufficient_scope"))
    return claims
