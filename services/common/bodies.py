"""Request bodies, read one way everywhere, by the views and the fast paths alike: at most the
route's size, JSON parsed by parse_json (jsontext.loads: no NaN or Infinity, no deeper than
jsontext.MAX_DEPTH), then (load_body) the contract schema.

One fault, one status, whichever service answers: over the route's size is a 413, nested too
deep a 400, and a body that is not what the route takes (not JSON, not a JSON object, or not
the schema's shape) a 422 naming the fields (INVALID); only the words are the service's own.

Each route takes one of the sizes below, and the gateway refuses the same sizes before it
forwards (gateway.proxy.routes.BODY_LIMITS). A body over its route's size is a 413 before any of it
is read when its Content-Length says so, and as soon as the reading passes the size when it
comes chunked (granian sets wsgi.input_terminated, so Werkzeug reads such a body). Small sizes
also bound what parsing costs: the json module holds about 25 bytes of memory per byte of a
body of empty objects.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

from services.common import jsontext
from services.common.i18n import N_
from services.common.problem import Problem

KIB, MIB = 1024, 1024 * 1024
#: A consent, a decision question, break-the-glass, an exchange request, a patient's entry,
#: amendment or caregiver invitation, an activation: a few hundred bytes each in English, but
#: a correction request's two texts of 2,000 characters (contracts.limits) in Greek or with
#: emoji, sent as JSON escapes (6 to 12 bytes a character, as Python's json writes them), reach 48 KB.
SMALL = 64 * KIB
#: One FHIR resource (PUT /fhir/{type}/{id}).
RESOURCE = 1 * MIB
#: A transaction Bundle (POST /fhir). Synthea's largest test patient is 0.55 MB (121 entries).
BUNDLE = 8 * MIB
#: The status of a body that is not what its route takes (RFC 9110 section 15.5.21).
INVALID = 422
NOT_AN_OBJECT = N_("Send a JSON object.")


def too_large(limit: int) -> Problem:
    """The 413 for a body over LIMIT bytes."""
    return Problem(413, N_("Content Too Large"),
                   N_("The request body is too large: this request takes at most {size}."),
                   params={"size": size_text(limit)}, max_bytes=limit)


def size_text(limit: int) -> str:
    """LIMIT in the largest binary unit that writes it whole: 16 KiB, 8 MiB, 100 bytes."""
    for unit, name in ((MIB, "MiB"), (KIB, "KiB")):
        if limit % unit == 0:
            return f"{limit // unit} {name}"
    return f"{limit} bytes"


def raw_body(limit: int) -> bytes:
    """Return the request body, or raise a 413 Problem when it is over LIMIT bytes."""
    if (request.content_length or 0) > limit:
        raise too_large(limit)  # said in Content-Length: refused before any of it is read
    # A chunked body says nothing: Werkzeug reads it up to this request's max_content_length
    # (Flask 3.1) and there stops without an error, so read one byte more to see it go past.
    request.max_content_length = limit + 1
    try:
        body = request.get_data()
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    if len(body) > limit:
        raise too_large(limit)
    return body


@lru_cache(maxsize=64)
def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case, without parameters (as Werkzeug's
    request.mimetype reads it)."""
    return parse_options_header(content_type or "")[0].lower()


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON: application/json or application/*+json (as
    Werkzeug's request.is_json)."""
    mt = media_type(content_type)
    return mt == "application/json" or mt.startswith("application/") and mt.endswith("+json")


def parse_json(raw: bytes, content_type: str | None) -> Any:
    """Return the JSON value RAW holds when CONTENT_TYPE names JSON; None for another media type
    or text that is not JSON (NaN and Infinity included); raise a 400 Problem when it nests
    deeper than jsontext.MAX_DEPTH. The one parse of a request body, for views and fast paths."""
    if not is_json(content_type):
        return None
    try:
        return jsontext.loads(raw)
    except jsontext.TooDeep:
        raise Problem(400, N_("Bad Request"),
                      N_("The JSON body nests arrays and objects more than {depth} levels deep."),
                      params={"depth": jsontext.MAX_DEPTH}) from None
    except ValueError:
        return None


def json_body(limit: int = SMALL) -> Any:
    """Return the request's JSON body (any JSON value), or None when it is not JSON (another
    media type, or text that does not parse); raise a 413 or, nested too deep, a 400 Problem."""
    raw = raw_body(limit)  # the size first, whatever the media type
    return parse_json(raw, request.headers.get("Content-Type"))


def invalid_input(messages: dict) -> Problem:
    """The INVALID problem naming the fields of MESSAGES (a field's name -> what is wrong)."""
    fields = sorted(str(name) for name in messages)
    return Problem(INVALID, N_("Invalid input"), N_("Check these fields: {fields}."),
                   params={"fields": ", ".join(fields)}, fields=fields, errors=messages)


Invalid = Callable[[dict], Problem]


def json_object(limit: int = SMALL, invalid: Invalid = invalid_input) -> dict:
    """Return the request's JSON object; any other body is INVALID({"body": [...]}), a 422 in
    the service's words; raise a 413 or 400 Problem as json_body does."""
    body = json_body(limit)
    if not isinstance(body, dict):
        raise invalid({"body": [NOT_AN_OBJECT]})
    return body


def load_body(schema: Schema, limit: int = SMALL, invalid: Invalid = invalid_input) -> dict:
    """Return the request's JSON object loaded by SCHEMA; a body that is not a JSON object or
    breaks the schema is INVALID(the fields' messages), a 422; raise a 413 or 400 Problem."""
    body = json_object(limit, invalid)
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from exc
