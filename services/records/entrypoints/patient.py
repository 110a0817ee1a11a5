"""Patient-facing HTTP API of the records service (/patient/v1/me, records, entries, amendments)."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the patient-facing routes to APP (none yet)."""
