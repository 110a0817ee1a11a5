"""The rules a new username and password follow: one set for everyone who signs in (patients
and caregivers in activation.py, department staff in staff.py)."""
from __future__ import annotations

import re

#: contracts/schemas/accounts.py checks the same pattern on the activation request
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
MIN_PASSWORD, MAX_PASSWORD = 10, 256


def username_ok(username: str) -> bool:
    return USERNAME.fullmatch(username) is not None


def password_ok(password: str) -> bool:
    return MIN_PASSWORD <= len(password) <= MAX_PASSWORD
