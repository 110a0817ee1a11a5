"""``GET /fhir/{type}/{id}`` by the custodian department as plain WSGI, in front of Flask.

A read by id is the records service's most frequent request, and Flask's per-request
machinery (request context, URL map, hooks, a Response object) costs more than the read
itself. A read that passes every check is answered here, with the same objects the Flask
view uses (the token validator, the scope grammar, handlers.read_resource with its
custodian rule and the prepared read). Anything else goes to Flask unchanged, and the view
(entrypoints.http.read) stays the one place that refuses and explains: no token or a bad
one, a missing scope, a token without a department, an unknown id or another department's
resource (404 either way), a conditional request, a query string, HEAD.
"""
from __future__ import annotations

import re
import time
from typing import Callable, Iterable

from services.common import i18n, smart
from services.common.auth import TokenValidator, parse_bearer
from services.common.problem import Problem
from services.records.service_layer import handlers

_READ = re.compile(r"^/fhir/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")
ROUTE = "/fhir/<resource_type>/<rid>"  # the Flask rule, for the metrics' route label


def resource_headers(stored) -> dict:
    """The validators of a resource's representation: its version as a weak ETag, and when."""
    return {"ETag": f'W/"{stored.version_id}"',
            "Last-Modified": stored.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT")}


class FastRead:
    """WSGI middleware: answer a custodian's plain read by id without entering Flask."""

    def __init__(self, app: Callable, records, validator: TokenValidator,
                 observe: Callable[[str, str, int, float], None]):
        self.app, self.records, self.validator, self.observe = app, records, validator, observe

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        if (environ["REQUEST_METHOD"] != "GET" or environ.get("QUERY_STRING")
                or "HTTP_IF_NONE_MATCH" in environ):
            return self.app(environ, start_response)
        found = _READ.match(environ.get("PATH_INFO") or "")
        if found is None:
            return self.app(environ, start_response)
        resource_type, rid = found.groups()
        try:
            claims = self.validator.validate(parse_bearer(environ.get("HTTP_AUTHORIZATION", "")))
        except Problem:
            return self.app(environ, start_response)
        department = claims.get("dept")
        if not department or not smart.allows(claims.get("scope", ""), "system", resource_type, "r"):
            return self.app(environ, start_response)
        try:
            stored = handlers.read_resource(self.records.reader(), resource_type, rid, department)
        except handlers.NotFound:
            return self.app(environ, start_response)  # the view answers 404, disclosing nothing

        body = stored.serialized().encode()
        headers = [("Content-Type", "application/fhir+json"), ("Content-Length", str(len(body))),
                   *resource_headers(stored).items(),
                   ("Content-Language", i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE")).used),
                   ("Vary", "Accept-Language")]
        start_response("200 OK", headers)
        self.observe("GET", ROUTE, 200, time.perf_counter() - started)
        return [body]
