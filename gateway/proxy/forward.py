"""One origin for every service: check the token, scope and rate, then forward (DESIGN section 1).

This is the hot path. Per request it does: one regex walk over routes.ROUTES, one cached token
check (signature verified once per token), one dict lookup for revocation, one bucket update,
and one pooled HTTP call. No key loading, no database query.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import urllib3
from flask import Blueprint, Response, request

from gateway.proxy import routes, wire
from gateway.proxy.ratelimit import TokenBucket
from gateway.authz.revocation import RevocationList
from services.common import bodies, smart
from services.common.auth import TokenValidator, bearer_token, parse_bearer
from services.common.i18n import N_
from services.common.problem import Problem

log = logging.getLogger(__name__)

FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language",
                     "Accept-Encoding", "If-Match", "If-None-Match", "traceparent")
# RFC 9110 section 7.6.1, plus the length Werkzeug recomputes for the body it sends.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "proxy-connection", "content-length"})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CAREGIVER_MAY_NOT = N_("The patient has not given you the right to do this.")
CAREGIVER_ASK = N_("Ask the patient to give you this right, or to do it themselves.")
#: The WSGI environ key under which gateway.fastpath hands a failed call's problem to the view.
UPSTREAM_PROBLEM_KEY = "phr.gateway.upstream_problem"
#: The fast path's refusal of a token, scope or rate, for the view to render as it is: checking
#: again would spend a second token of the rate budget, and could let the request through.
REFUSAL_KEY = "phr.gateway.refusal"


def _challenge(error: str, scope: str | None = None) -> dict:
    value = f'Bearer realm="phr", error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


@dataclass
class Guard:
    """The coarse checks: a valid, unrevoked token, the route's scope, the client's rate."""

    validator: TokenValidator
    revocations: RevocationList
    limiter: TokenBucket

    def claims(self, authorization: str | None = None) -> dict:
        """Return the claims of the bearer token in AUTHORIZATION (default: the Flask
        request's header), or raise 401."""
        # TokenValidator keeps verified tokens until they expire, so a signature is checked once.
        raw = bearer_token() if authorization is None else parse_bearer(authorization)
        claims = self.validator.validate(raw)
        if self.revocations.is_revoked(claims["jti"]):
            raise Problem(401, N_("Unauthorized"), N_("The access token was revoked."),
                          next_step=N_("Sign in again."),
                          headers=_challenge("invalid_token"))
        if claims.get("act") and claims["exp"] <= time.time():
            # A caregiver's token expires with the grant (gateway/proxies.py). We issued it on
            # this clock, so the validator's leeway for clock skew does not apply.
            raise Problem(401, N_("Unauthorized"), N_("The caregiver's access has ended."),
                          next_step=N_("Ask the patient to invite you again."),
                          headers=_challenge("invalid_token"))
        return claims

    def check(self, rule: tuple[str, str, str], authorization: str | None = None) -> dict:
        """Return the claims if the token passes RULE and the rate limit, else raise 401/403/429."""
        claims = self.claims(authorization)
        context, resource, interactions = rule
        if not smart.allows(claims.get("scope", ""), context, resource, interactions):
            needed = f"{context}/{resource}.{interactions}"
            if claims.get("act"):  # a caregiver holds only the rights the patient gave
                raise Problem(403, N_("Forbidden"), CAREGIVER_MAY_NOT, next_step=CAREGIVER_ASK,
                              headers=_challenge("insufficient_scope", needed))
            raise Problem(403, N_("Forbidden"),
                          N_("Your token may not do this. It needs the scope {scope}."),
                          headers=_challenge("insufficient_scope", needed), params={"scope": needed})
        if context == "patient" and not claims.get("patient"):
            raise Problem(403, N_("Forbidden"), N_("This request needs a patient's access token."),
                          headers=_challenge("insufficient_scope"))
        self.limit(claims)
        return claims

    def limit(self, claims: dict) -> None:
        """Spend one request of the caller's budget or raise 429."""
        # Department clients share one budget; every patient of the public portal has their own.
        # A caregiver (act) has a budget of their own, apart from the patient's.
        actor = claims.get("act") if isinstance(claims.get("act"), dict) else {}
        key = (claims["client_id"] if not claims.get("patient")
               else f"{claims['client_id']} {actor.get('sub') or claims['sub']}")
        wait = self.limiter.take(key)
        if wait:
            raise Problem(429, N_("Too Many Requests"),
                          N_("Too many requests from this app. Wait {seconds} seconds, then try again."),
                          headers={"Retry-After": str(wait)}, params={"seconds": wait})


@dataclass
class UpstreamResponse:
    """What a service answered: status, headers and the body exactly as sent."""

    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


class Upstreams:
    """Forward requests to the services: plain-HTTP peers over gateway.wire's keep-alive
    connections, any other (https) over one urllib3 pool.

    Not requests: this is the gateway's hot path, and requests' session machinery (hooks,
    cookies, redirects, environment proxies) roughly doubles the per-call cost while adding
    nothing a fixed set of internal peers needs (gateway.wire says why not urllib3 either).
    """

    def __init__(self, peers: dict[str, str], connect_timeout: float = 2.0,
                 read_timeout: float = 30.0, pool_size: int = 32):
        self.peers = {name: url.rstrip("/") for name, url in peers.items()}
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.pool = urllib3.PoolManager(num_pools=max(len(self.peers), 1), maxsize=pool_size,
                                        block=False, retries=False)
        self.wire: dict[str, wire.Peer] = {}
        for name, url in self.peers.items():
            parts = urlsplit(url)
            if parts.scheme == "http" and parts.hostname and not parts.path:
                self.wire[name] = wire.Peer(parts.hostname, parts.port or 80, connect_timeout,
                                            read_timeout, pool_size)

    def call(self, service: str, method: str, path: str, query: bytes = b"",
             headers: dict | None = None, body: bytes | None = None) -> UpstreamResponse:
        """Send one request to SERVICE, mapping network failures to 503/504/502 problems."""
        target = path + (("?" + query.decode("latin-1")) if query else "")
        peer = self.wire.get(service)
        if peer is not None:
            try:
                return UpstreamResponse(*peer.request(method, target, list((headers or {}).items()),
                                                      body or b""))
            except wire.UpstreamError as exc:
                log.warning("%s failed (%s): %s", service, exc.kind, exc)
                raise _failure(service, exc.kind) from exc
        try:
            resp = self.pool.request(method, self.peers[service] + target, headers=headers or {},
                                     body=body or None, timeout=self.timeout, redirect=False,
                                     retries=False, preload_content=True, decode_content=False)
            return UpstreamResponse(resp.status, list(resp.headers.items()), resp.data)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            log.warning("%s unreachable: %s", service, exc)
            raise _failure(service, "connect") from exc
        except urllib3.exceptions.TimeoutError as exc:
            log.warning("%s timed out: %s", service, exc)
            raise _failure(service, "timeout") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("%s failed: %s", service, exc)
            raise _failure(service, "protocol") from exc


def _failure(service: str, kind: str) -> Problem:
    """Return the problem for a failed call of KIND (gateway.wire.UpstreamError's kinds):
    "connect" (unreachable) 503, "timeout" 504, anything else 502."""
    if kind == "connect":
        return Problem(503, N_("Service Unavailable"),
                       N_("The {service} service cannot be reached right now."),
                       next_step=N_("Try again in a few minutes."),
                       headers={"Retry-After": "5"}, params={"service": service})
    if kind == "timeout":
        return Problem(504, N_("Gateway Timeout"),
                       N_("The {service} service did not answer in time. Nothing is known to have changed."),
                       next_step=N_("Try again in a few minutes."), params={"service": service})
    return Problem(502, N_("Bad Gateway"), N_("The {service} service gave an invalid answer."),
                   next_step=N_("Try again in a few minutes."), params={"service": service})


def quote_path(path: str) -> str:
    """Return PATH percent-encoded for the request line (dot segments are refused before)."""
    return quote(path, safe="/-._~!$&'()*+,;=:@")


def _safe_path(path: str) -> str:
    """Refuse dot segments (they would be normalised away upstream) and re-encode the path."""
    if any(seg in (".", "..") for seg in path.split("/")):
        raise Problem(400, N_("Bad Request"), N_("The path may not contain '.' or '..' segments."))
    return quote_path(path)


def response_headers(headers: list[tuple[str, str]], base: str, public_base: str) -> list[tuple[str, str]]:
    """Return a service's response HEADERS for the client: no hop-by-hop ones, and a Location
    under the service's BASE URL moved to the gateway's PUBLIC_BASE."""
    return [(k, public_base + v[len(base):] if k.lower() == "location" and v.startswith(base) else v)
            for k, v in headers if k.lower() not in HOP_BY_HOP]


def create_blueprint(guard: Guard, upstreams: Upstreams, public_base: str) -> Blueprint:
    """Register one catch-all rule per proxied prefix (routes.UPSTREAMS).

    The common case never reaches these views: gateway.fastpath forwards it without Flask.
    They serve the rest, and render every refusal and failure.
    """
    bp = Blueprint("proxy", __name__)

    def forward(rest: str = ""):
        """Check the route's rule and pass the request to its service."""
        failed = request.environ.get(UPSTREAM_PROBLEM_KEY) or request.environ.get(REFUSAL_KEY)
        if failed is not None:  # the fast path refused it, or its call failed (not sent twice)
            raise failed
        found = routes.match(request.method, request.path)
        if found is None:
            raise Problem(404, N_("Not Found"), N_("The gateway has no route for {method} {path}."),
                          params={"method": request.method, "path": request.path})
        path = _safe_path(request.path)
        if found.rule is not None:
            claims = guard.check(found.rule)
            if claims.get("act"):  # every action by a caregiver is logged as theirs
                log.info("caregiver %s acting for patient %s: %s %s", claims["act"],
                         claims.get("patient"), request.method, request.path)
        headers = {name: request.headers[name] for name in FORWARDED_HEADERS
                   if name in request.headers}
        upstream = upstreams.call(found.upstream, request.method, path, request.query_string,
                                  headers, bodies.raw_body(found.max_body))
        out = response_headers(upstream.headers, upstreams.peers[found.upstream], public_base)
        return Response(upstream.body, status=upstream.status_code, headers=out)

    for prefix, _service in routes.UPSTREAMS:
        name = prefix.strip("/").replace("/", "_")
        bp.add_url_rule(prefix, f"{name}_root", forward, methods=METHODS)
        bp.add_url_rule(prefix + "/<path:rest>", f"{name}_sub", forward, methods=METHODS)
    return bp
