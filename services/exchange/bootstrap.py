"""Wire the exchange service's dependencies once per process."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from services.common.config import Settings
from services.common.db import make_engine


@dataclass
class Exchange:
    """The exchange service's dependencies."""

    settings: Settings
    engine: Engine


def bootstrap(settings: Settings, engine: Engine | None = None) -> Exchange:
    """Build the dependencies from SETTINGS (or use the ENGINE a test gives)."""
    return Exchange(settings, engine or make_engine(settings.database_url))
