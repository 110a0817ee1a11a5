"""Compact JSON text of the documents the records service stores and rewrites.

orjson writes it about fifteen times faster than the json module (a Synthea bundle's 70
resources: 0.06 ms against 1 ms), which the import pays once to store each resource and once
more to rewrite its references. Its text is what ``json.dumps(separators=(",", ":"),
ensure_ascii=False)`` writes for these documents (a float may be spelled otherwise, 1.5e-7 for
1.5e-07, and reads back the same), except where orjson refuses: an integer
beyond 64 bits (json.loads reads a FHIR decimal such as 123456789012345678901234567890 as an
exact int), which goes through the json module instead. NaN and infinities never get here:
request bodies are parsed by loads() below (services.common.http.StrictJSONProvider), which
refuses them.
"""
from __future__ import annotations

import json

import orjson

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def compact(value) -> str:
    """Return VALUE as compact JSON text, non-ASCII characters as themselves."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _JSON(value)


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON (RFC 8259 section 6)")


def loads(text: str | bytes, **kwargs):
    """Parse JSON text as the json module does, but refuse NaN, Infinity and -Infinity, which
    it accepts by default and which no JSON document (nor a FHIR decimal) may hold."""
    return json.loads(text, parse_constant=_refuse, **kwargs)
