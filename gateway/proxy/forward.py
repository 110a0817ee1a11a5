"""One origin for every service: a request that passes the Guard goes to its service
(routes.UPSTREAMS), and the answer comes back as the service sent it.

The common case never reaches the Flask view below: gateway.proxy.fastpath forwards it
without Flask (docs/architecture.md, "The fast path"). The view serves the rest, and renders
every refusal and failure.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, Response, request

from gateway.proxy import routes
from gateway.proxy.guard import Guard
from gateway.proxy.upstreams import Upstreams
from services.common import bodies
from services.common.i18n import N_
from services.common.problem import Problem
from services.common.tracing import outgoing_headers

log = logging.getLogger(__name__)

# Not the client's traceparent: the service continues the gateway's trace (outgoing_headers).
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language",
                     "Accept-Encoding", "If-Match", "If-None-Match")
# RFC 9110 section 7.6.1, plus the length Werkzeug recomputes for the body it sends.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "proxy-connection", "content-length"})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: The WSGI environ key under which the fast path hands a failed call's problem to the view.
UPSTREAM_PROBLEM_KEY = "phr.gateway.upstream_problem"
#: The fast path's refusal of a token, scope or rate, for the view to render as it is: checking
#: again would spend a second token of the rate budget, and could let the request through.
REFUSAL_KEY = "phr.gateway.refusal"


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
    """Register one catch-all rule per proxied prefix (routes.UPSTREAMS)."""
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
            if claims.get("act"):  # every action by a caregiver is logged as theirs (who: DEBUG only)
                log.info("a caregiver acting for a patient: %s %s", request.method,
                         routes.rule_for(request.path))
                log.debug("caregiver %s acting for patient %s: %s %s", claims["act"], claims.get("patient"),
                          request.method, request.path)
        headers = {name: request.headers[name] for name in FORWARDED_HEADERS
                   if name in request.headers}
        outgoing_headers(headers)  # the service continues this request's span, not the client's
        upstream = upstreams.call(found.upstream, request.method, path, request.query_string,
                                  headers, bodies.raw_body(found.max_body))
        out = response_headers(upstream.headers, upstreams.peers[found.upstream], public_base)
        return Response(upstream.body, status=upstream.status_code, headers=out)

    for prefix, _service in routes.UPSTREAMS:
        name = prefix.strip("/").replace("/", "_")
        bp.add_url_rule(prefix, f"{name}_root", forward, methods=METHODS)
        bp.add_url_rule(prefix + "/<path:rest>", f"{name}_sub", forward, methods=METHODS)
    return bp
