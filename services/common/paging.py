"""One paging cursor for every list: opaque to the client, URL-safe, checked when it comes back.

A cursor is the base64url text, without padding, of the compact JSON list
``[list name, *position]``: ``["disclosures", 20]`` resumes the disclosures at offset 20,
``["records", "2024-03-03T10:00:00", "Observation", "o-1"]`` resumes the patient's records
after that sort key. The list name keeps a cursor from being used on another list; the
position is checked against the shape its list expects. A cursor is taken back only as
``encode`` writes it, so a damaged, edited, re-encoded or oversized one is refused.

Nothing in it is secret or signed: every list is confined to what its caller may see, so an
edited cursor could only move within that. The contracts call cursors opaque ("the `next` of
the page before"): a client passes them back as they are and never builds one.
"""
from __future__ import annotations

import base64
import binascii
import json
import re

from services.common import jsontext
from services.common.params import MAX_DIGITS, whole_number

#: The page size a list gives without ``?limit=``, and the largest it gives.
DEFAULT_PAGE, MAX_PAGE = 20, 100

#: The longest cursor taken back, in characters: a position is a few short values (an offset,
#: a date, a resource type, an id of at most 64 characters), a fifth of this.
MAX_LENGTH = 512

_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_BIGGEST = 10 ** MAX_DIGITS - 1  # what a number parameter may be (services.common.params)


class BadCursor(ValueError):
    """The cursor was not made for this list: damaged, edited, another list's, or too long."""


def encode(name: str, *position: str | int) -> str:
    """Return the cursor that resumes list NAME at POSITION (strings and whole numbers)."""
    raw = json.dumps([name, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, name: str, *shape: type) -> list:
    """Return the position CURSOR holds for list NAME, one value of each type in SHAPE (str or
    int; an int from 0 to 18 digits), or raise BadCursor."""
    if not cursor or len(cursor) > MAX_LENGTH or not _ALPHABET.fullmatch(cursor):
        raise BadCursor(name)
    try:
        value = jsontext.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(name) from None
    if not (isinstance(value, list) and len(value) == len(shape) + 1 and value[0] == name):
        raise BadCursor(name)
    position = value[1:]
    for part, kind in zip(position, shape):
        # type() rather than isinstance(): True is an int to isinstance.
        if type(part) is not kind or (kind is int and not 0 <= part <= _BIGGEST):
            raise BadCursor(name)
    if encode(name, *position) != cursor:
        raise BadCursor(name)
    return position


def page_size(text: str | None, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int | None:
    """Return ``?limit=`` TEXT as a page size from 1 to MAXIMUM (DEFAULT when absent), or None
    when it is anything else: a size out of range is refused, not bent."""
    if text is None:
        return default
    size = whole_number(text)
    return size if size is not None and 1 <= size <= maximum else None
