"""The proxy's fast path: its common case as plain WSGI, in front of the gateway's Flask app
(docs/architecture.md, "The fast path"). The services' fast routes (services.common.fastpath)
answer one route each; the proxy has many prefixes and methods and hands a failed call's
problem to its view, and so has its own.

A forwarded request needs none of Flask's per-request machinery (request context, session
cookie, URL map, hooks, a Response object), which costs more than the forwarding itself. So a
request that passes every check is forwarded from here; every other request goes to Flask as
it came, and the Flask view (gateway.proxy.forward) stays the one place that refuses and
explains. The checks are the same objects: gateway.proxy.routes, the Guard (token,
revocation, scope, rate) and the Upstreams.

What goes to Flask: paths the gateway does not forward, open routes, HEAD and OPTIONS, a
refused token, scope or rate, a dot segment, a body without a Content-Length or over the
route's size (routes.BODY_LIMITS; the view refuses it), and a failed call to the service. A
refusal and a failed call are handed to the view in the WSGI environ, which renders them as
they are: a refused request does not spend a second token of its rate budget, and a request is
never sent twice.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from gateway.proxy import forward, routes
from gateway.proxy.guard import Guard
from gateway.proxy.upstreams import Upstreams
from services.common import i18n
from services.common.fastpath import NO_LENGTH, content_length, reason
from services.common.problem import Problem
from services.common.tracing import ROUTE_KEY, outgoing_headers

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Request headers forwarded, as WSGI environ keys.
_FORWARDED = [(name, "HTTP_" + name.upper().replace("-", "_")) for name in forward.FORWARDED_HEADERS
              if name != "Content-Type"]


class FastPath:
    """WSGI middleware: forward requests that pass the Guard without entering Flask."""

    def __init__(self, app: Callable, guard: Guard, upstreams: Upstreams,
                 public_base: str, observe: Callable[[str, str, int, float], None]):
        self.app, self.guard, self.upstreams = app, guard, upstreams
        self.public_base, self.observe = public_base, observe

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if method not in METHODS or not path.isascii():
            return self.app(environ, start_response)
        found = routes.match(method, path)
        if found is None or found.rule is None or "/./" in path + "/" or "/../" in path + "/":
            return self.app(environ, start_response)
        length = content_length(environ, found.max_body)
        if length is None:
            return self.app(environ, start_response)
        try:
            claims = self.guard.check(found.rule, environ.get("HTTP_AUTHORIZATION", ""))
        except Problem as refusal:
            environ[forward.REFUSAL_KEY] = refusal  # the view renders it, without checking again
            return self.app(environ, start_response)
        except Exception:  # nothing was sent: the view meets the same failure and answers it
            log.warning("proxy fast path failed before forwarding; the Flask view answers", exc_info=True)
            return self.app(environ, start_response)
        if claims.get("act"):  # every action by a caregiver is logged as theirs (who: DEBUG only)
            log.info("a caregiver acting for a patient: %s %s", method, routes.rule_for(path))
            log.debug("caregiver %s acting for patient %s: %s %s", claims["act"], claims.get("patient"),
                      method, path)

        headers = {name: environ[key] for name, key in _FORWARDED if key in environ}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        outgoing_headers(headers)  # the service continues this request's span, not the client's
        body = environ["wsgi.input"].read(length) if length else b""
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        try:
            upstream = self.upstreams.call(found.upstream, method, forward.quote_path(path), query,
                                           headers, body)
        except Problem as problem:
            environ[forward.UPSTREAM_PROBLEM_KEY] = problem
            return self.app(environ, start_response)

        out = forward.response_headers(upstream.headers, self.upstreams.peers[found.upstream],
                                     self.public_base)
        names = {name.lower() for name, _ in out}
        if "content-language" not in names:
            out.append(("Content-Language",
                        i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE")).used))
        if not any(n.lower() == "vary" and "accept-language" in v.lower() for n, v in out):
            out.append(("Vary", "Accept-Language"))
        if upstream.status_code not in NO_LENGTH:
            out.append(("Content-Length", str(len(upstream.body))))
        start_response(f"{upstream.status_code} {reason(upstream.status_code)}", out)
        environ[ROUTE_KEY] = rule = routes.rule_for(path)
        self.observe(method, rule, upstream.status_code, time.perf_counter() - started)
        return [upstream.body]
