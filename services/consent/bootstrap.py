"""Wire the consent service's dependencies once per process."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from services.common.config import Settings
from services.common.db import make_engine


@dataclass
class Consent:
    """The consent service's dependencies."""

    settings: Settings
    engine: Engine


def bootstrap(settings: Settings, engine: Engine | None = None) -> Consent:
    """Build the dependencies from SETTINGS (or use the ENGINE a test gives)."""
    return Consent(settings, engine or make_engine(settings.database_url))
