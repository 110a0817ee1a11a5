"""One-time codes a person reads aloud or types: activation codes and caregiver invites."""
from __future__ import annotations

import re
import secrets

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read aloud
CODE_LENGTH = 12  # about 59 bits


def new_code() -> str:
    """Return a code like ABCD-EFGH-JKMN."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """Return CODE as stored (hashed): no spaces or dashes, upper case."""
    return re.sub(r"[\s-]", "", code).upper()
