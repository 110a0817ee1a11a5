"""``GET /fhir/{type}/{id}`` by the custodian department, answered without Flask
(services.common.fastpath): the records service's most frequent request.

The handler uses what the Flask view uses (the token validator, the scope grammar,
handlers.read_resource with its custodian rule and the prepared read) and answers only a
read that passes all of it. Anything else goes to the view (entrypoints.http.read), which
refuses and explains: no token or a bad one (a department the service's directory does not hold
as active among them: the one validator checks it), a missing scope, a token without a department,
an unknown id or another department's resource (404 either way), a conditional request, a
query string, HEAD.
"""
from __future__ import annotations

import re

from contracts.http import FHIR_ID_PART, FHIR_TYPE_PART
from services.common.auth import TokenValidator
from services.common.fastpath import Answer, FastRoute, authorized, language_headers
from services.records.service_layer import handlers


def resource_headers(stored) -> dict:
    """The validators of a resource's representation: its version as a weak ETag, and when."""
    return {"ETag": f'W/"{stored.version_id}"',
            "Last-Modified": stored.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT")}


def fast_read(records, validator: TokenValidator) -> FastRoute:
    """The fast route of a custodian's plain read by id."""

    def read(environ: dict, found: re.Match) -> Answer | None:
        if environ.get("QUERY_STRING") or "HTTP_IF_NONE_MATCH" in environ:
            return None
        resource_type, rid = found.groups()
        claims = authorized(environ, validator, "system", resource_type, "r")
        department = claims.get("dept") if claims else None
        if not department:
            return None
        try:
            stored = handlers.read_resource(records.reader(), resource_type, rid, department)
        except handlers.NotFound:
            return None  # the view answers 404, disclosing nothing
        headers = [("Content-Type", "application/fhir+json"), *resource_headers(stored).items(),
                   *language_headers(environ)]
        return 200, headers, stored.serialized().encode()

    return FastRoute("GET", re.compile(rf"^/fhir/({FHIR_TYPE_PART})/({FHIR_ID_PART})$"),
                    "/fhir/<resource_type>/<rid>", read)
