"""Query parameters that are numbers."""
from __future__ import annotations

#: The most digits a number parameter may have. Any 18-digit number fits a signed 64-bit
#: integer, what SQLite and PostgreSQL (BIGINT) take as a LIMIT or OFFSET: a longer one made
#: SQLite raise OverflowError, and past 4,300 digits int() itself raises ValueError (both 500s).
MAX_DIGITS = 18


def whole_number(text: str) -> int | None:
    """Return TEXT as an int if it is 1 to MAX_DIGITS ASCII digits, else None.

    str.isdigit() alone also says yes to digits int() refuses, such as "³".
    """
    ok = len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()
    return int(text) if ok else None
