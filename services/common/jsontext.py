"""Compact JSON text of the documents the records service stores and rewrites.

orjson writes it many times faster than the json module (README, "Benchmarks"), which the
import pays once to store each resource and once more to rewrite its references. Its text is
what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes for these documents (a
float may be spelled otherwise, 1.5e-7 for 1.5e-07, and reads back the same), except where
orjson refuses: an integer beyond 64 bits (json.loads reads a FHIR decimal such as
123456789012345678901234567890 as an exact int), which goes through the json module instead.
NaN and infinities never get here: request bodies are parsed by loads() below
(services.common.bodies), which refuses them, and refuses nesting deeper than MAX_DEPTH.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

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


#: The deepest nesting of arrays and objects a document may have. A FHIR resource is about 10
#: deep (Synthea's bundles: 11); the json module recurses once per level and raises
#: RecursionError near 1,000, and so would any code that walks the document afterwards.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than MAX_DEPTH."""


# Escapes that could hide a quote: an escaped backslash, then an escaped quote (in that order,
# so that in \\" the quote still ends the string).
_ESCAPES = ((b"\\\\", b""), (b'\\"', b""))
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_STRING = re.compile(rb'"[^"]*"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def depth(text: bytes) -> int:
    """Return how deep TEXT nests arrays and objects, brackets inside strings not counted.

    Byte operations the interpreter runs in C (cheaper than
    parsing it): drop the escapes, keep only brackets and quotes, drop the strings, then the
    highest running sum of +1 per opening and -1 per closing bracket.
    """
    for escape, nothing in _ESCAPES:
        text = text.replace(escape, nothing)
    shape = _STRING.sub(b"", text.translate(None, _NOT_STRUCTURE))
    return max(accumulate(map(_STEP.__getitem__, shape)), default=0)


def too_deep(text: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether TEXT nests deeper than LIMIT; free for a body with fewer brackets than LIMIT."""
    return text.count(b"[") + text.count(b"{") > limit and depth(text) > limit


def loads(text: str | bytes, **kwargs):
    """Parse JSON text as the json module does, but refuse NaN, Infinity and -Infinity, which
    it accepts by default and which no JSON document (nor a FHIR decimal) may hold, and
    nesting deeper than MAX_DEPTH (TooDeep, a ValueError)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if too_deep(raw):
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse, **kwargs)
    except RecursionError:  # text the count above misreads (not JSON anyway), never a 500
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels") from None
