"""Request bodies, read one way everywhere: at most the route's size, JSON no deeper than
jsontext.MAX_DEPTH, then (load_body) the contract schema.

Each route takes one of the sizes below, and the gateway refuses the same sizes before it
forwards (gateway.routes.BODY_LIMITS). A body over its route's size is a 413 before any of it
is read when its Content-Length says so, and as soon as the reading passes the size when it
comes chunked (granian sets wsgi.input_terminated, so Werkzeug reads such a body). Small sizes
also bound what parsing costs: the json module holds about 25 bytes per byte of a body of
empty objects, so a 3 MB body took 72 MB.
"""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

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


def json_body(limit: int = SMALL) -> Any:
    """Return the request's JSON body (any JSON value), or None when it is not JSON (another
    media type, or text that does not parse); raise a 413 or, nested too deep, a 400 Problem."""
    raw = raw_body(limit)  # the size first, whatever the media type
    if not request.is_json:
        return None
    try:
        return jsontext.loads(raw)
    except jsontext.TooDeep:
        raise Problem(400, N_("Bad Request"),
                      N_("The JSON body nests arrays and objects more than {depth} levels deep."),
                      params={"depth": jsontext.MAX_DEPTH}) from None
    except ValueError:
        return None


def load_body(schema: Schema, limit: int = SMALL) -> dict:
    """Return the request's JSON object loaded by SCHEMA, or raise a 400/413/422 Problem."""
    body = json_body(limit)
    if not isinstance(body, dict):
        raise Problem(400, N_("Bad Request"), N_("Send a JSON object."))
    try:
        return schema.load(body)
    except ValidationError as exc:
        fields = sorted(str(name) for name in exc.messages) if isinstance(exc.messages, dict) else []
        raise Problem(422, N_("Invalid input"), N_("Check these fields: {fields}."),
                      params={"fields": ", ".join(fields)}, fields=fields,
                      errors=exc.messages) from exc
