"""Query parameters that are numbers."""
from __future__ import annotations


def whole_number(text: str) -> int | None:
    """Return TEXT as an int if it is written in ASCII digits only, else None.

    str.isdigit() alone also says yes to digits int() refuses, such as "³".
    """
    return int(text) if text.isascii() and text.isdigit() else None
