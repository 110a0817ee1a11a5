"""The records service's most frequent requests answered without Flask (services.common.fastpath):
``GET /fhir/{type}/{id}`` by the custodian department, and a patient's records page.

The handler uses what the Flask view uses (the token validator, the scope grammar,
handlers.read_resource with its custodian rule and the prepared read) and answers only a
read that passes all of it. Anything else goes to the view (entrypoints.http.read), which
refuses and explains: no token or a bad one (a department the service's directory does not hold
as active among them: the one validator checks it), a missing scope, a token without a department,
an unknown id or another department's resource (404 either way), a conditional request, a
query string, HEAD.

The records page (``GET /patient/v1/records``) is answered with the view's own functions
(entrypoints.patient: patient_of, header_language, page_query, records_page, private_headers), its
one cache of encoded pages, and the functions the app's hooks call on a patient's answer (the
contract check and the language count, services.common.contract_checks), only for the patient's
own token with an Accept-Language that names a language and at most the page's parameters, each
once and plainly written. Anything else is the view's: a caregiver's token, a refusal, a
language the view takes from the token or the patient's record, a parameter to decode or to
refuse. In ``enforce`` mode the view answers every page, so that a violation is its 500.
"""
from __future__ import annotations

import re

from flask import Flask

from contracts.http import FHIR_ID_PART, FHIR_TYPE_PART
from services.common.auth import TokenValidator, parse_bearer
from services.common.fastpath import Answer, FastRoute, authorized, language_headers
from services.common.problem import Problem
from services.records.entrypoints import patient
from services.records.service_layer import handlers

PAGE_ROUTE = "/patient/v1/records"
#: One page parameter written plainly: a category, a limit and a cursor are written in these
#: characters, so the value needs no decoding (one that does is the view's to read).
_PLAIN_PARAM = re.compile(r"(category|limit|cursor)=([A-Za-z0-9_-]*)")


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


def plain_args(query_string: str) -> dict[str, str] | None:
    """The page's parameters of QUERY_STRING, each at most once and plainly written; None for
    anything else (an unknown or repeated parameter, an escape, an empty pair)."""
    args: dict[str, str] = {}
    if not query_string:
        return args
    for pair in query_string.split("&"):
        found = _PLAIN_PARAM.fullmatch(pair)
        if found is None or found[1] in args:
            return None
        args[found[1]] = found[2]
    return args


def fast_records_page(records, validator: TokenValidator, app: Flask) -> FastRoute | None:
    """The fast route of a patient's records page; None in ``enforce`` mode (the view answers)."""
    checks = app.extensions["contract_checks"]
    if checks.mode == "enforce":
        return None
    count_language, dumps = app.extensions["count_language"], app.json.dumps

    def page(environ: dict, _found: re.Match) -> Answer | None:
        lang = patient.header_language(environ.get("HTTP_ACCEPT_LANGUAGE"))
        args = plain_args(environ.get("QUERY_STRING", ""))
        if lang is None or args is None:
            return None
        try:
            claims = validator.validate(parse_bearer(environ.get("HTTP_AUTHORIZATION", "")))
            if claims.get("act"):  # a caregiver's token: the view weighs what the patient gave
                return None
            query = patient.page_query(patient.patient_of(claims, "*", "rs"), lang, args)
        except Problem:
            return None
        etag, encoded = patient.records_page(records, query, environ.get("HTTP_IF_NONE_MATCH"), dumps)
        headers = {} if encoded is None else {"Content-Type": "application/json"}
        patient.private_headers(headers, lang, etag)
        if encoded is not None and checks.check is not None:
            checks.check("GET", PAGE_ROUTE, encoded, headers)
        count_language(lang)
        return (304, list(headers.items()), b"") if encoded is None else (200, list(headers.items()), encoded)

    return FastRoute("GET", re.compile(r"^/patient/v1/records$"), PAGE_ROUTE, page)
