"""A service's fast path: its most frequent routes answered as plain WSGI, in front of its
Flask app (docs/architecture.md, "The fast path").

Flask's per-request machinery (request context, URL map, hooks, a Response object) is a
fixed cost that, on a one-lookup route such as a consent decision or a FHIR read by id, is
larger than the work itself. A fast route's handler answers only the common case that passes
every check, with the same objects the Flask view uses; it returns None for anything else,
and the request goes to Flask as it came (a body read here is put back), so the view stays
the one place that refuses and explains. A handler that raises (its database away, say) is
also handed over: the view meets the same failure and answers it as problem+json. So a
handler must only read, never change anything. Not a framework: a list of (method,
pattern, handler) and a fall-through.
"""
from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Iterable

from werkzeug.http import remove_entity_headers

from services.common import i18n, smart
from services.common.auth import TokenValidator, parse_bearer
from services.common.problem import Problem
from services.common.tracing import ROUTE_KEY

#: status, headers (without Content-Length), body
Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[dict, re.Match], "Answer | None"]
#: Statuses whose responses carry no body and so no Content-Length (RFC 9110 section 8.6).
NO_LENGTH = frozenset({204, 304})
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastRoute:
    method: str
    pattern: re.Pattern
    label: str  # the Flask rule of the same route: the metrics' route label
    handler: Handler


class FastRoutes:
    """WSGI middleware: try each matching fast route's handler; on None, call the Flask app."""

    def __init__(self, app: Callable, routes: list[FastRoute],
                 observe: Callable[[str, str, int, float], None]):
        self.app, self.routes, self.observe = app, routes, observe

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.fullmatch(path)  # not match: its $ would let a final newline through
            if found is None:
                continue
            try:
                answer = route.handler(environ, found)
            except Exception:  # the view meets the same failure and answers it as a problem
                log.warning("fast route %s failed; the Flask view answers", route.label, exc_info=True)
                answer = None
            if answer is None:
                break
            status, headers, body = answer
            if status == 304:  # as Werkzeug sends a view's 304: without the representation's headers
                remove_entity_headers(headers)
            elif status not in NO_LENGTH:
                headers.append(("Content-Length", str(len(body))))
            start_response(f"{status} {reason(status)}", headers)
            environ[ROUTE_KEY] = route.label
            self.observe(method, route.label, status, time.perf_counter() - started)
            return [body]
        return self.app(environ, start_response)


def reason(status: int) -> str:
    """The reason phrase of STATUS (RFC 9110 section 15), or "Unknown"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def content_length(environ: dict, limit: int) -> int | None:
    """Return the request's Content-Length (0 without a body) when it is at most LIMIT; None
    for a chunked body, a malformed length or one over LIMIT (the view judges those)."""
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if 0 <= length <= limit else None


def read_body(environ: dict, limit: int) -> bytes | None:
    """Return the request body when it has a Content-Length of at most LIMIT bytes, else None.

    The bytes are put back as the environ's input, so Flask can still read them on fall-through.
    """
    length = content_length(environ, limit)
    if length is None:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def authorized(environ: dict, validator: TokenValidator, context: str, resource: str,
               interactions: str) -> dict | None:
    """Return the claims of the request's bearer token when it is valid and its scopes allow
    the interactions (services.common.smart); None otherwise, for the view to refuse."""
    try:
        claims = validator.validate(parse_bearer(environ.get("HTTP_AUTHORIZATION", "")))
    except Problem:
        return None
    return claims if smart.allows(claims.get("scope", ""), context, resource, interactions) else None


def language_headers(environ: dict) -> list[tuple[str, str]]:
    """Content-Language and Vary of an answer in the request's language, by i18n.label, the
    function that labels a Flask response."""
    labels: dict[str, str] = {}
    i18n.label(labels, i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE")).used)
    return list(labels.items())
