"""Wire the records service's dependencies once per process."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from contracts.events import EventChecker
from sqlalchemy.engine import Engine

from services.common.config import Settings
from services.common.db import make_engine
from services.common.directory import Directory, sql_loader
from services.records.domain.sensitivity import Labeller
from services.records.adapters.repository import ResourceReads
from services.records.adapters.tables import departments
from services.records.service_layer.unit_of_work import ReadUnitOfWork, SqlUnitOfWork


@dataclass
class Records:
    """The records service's dependencies."""

    settings: Settings
    engine: Engine
    events: EventChecker
    labeller: Labeller
    #: The departments this service knows (its copy, kept by the worker from phr.directory.v1):
    #: the token check refuses a department that is not active, and patients read their names.
    directory: Directory
    #: The service's clock (a test sets it): what the human measures count days from.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    reads: ResourceReads = field(init=False)

    def __post_init__(self):
        self.reads = ResourceReads(self.engine.dialect)

    def uow(self, write: bool = True) -> SqlUnitOfWork:
        """Start a unit of work."""
        return SqlUnitOfWork(self.engine, write=write, checker=self.events)

    def reader(self) -> ReadUnitOfWork:
        """Start a read by id (no transaction; see ReadUnitOfWork)."""
        return ReadUnitOfWork(self.engine, self.reads)


def bootstrap(settings: Settings, engine: Engine | None = None,
              clock: Callable[[], datetime] | None = None) -> Records:
    """Build the dependencies from SETTINGS (or use the ENGINE and CLOCK a test gives)."""
    engine = engine or make_engine(settings.database_url)
    records = Records(settings, engine, EventChecker(settings.contract_checks), Labeller.from_directory(),
                      Directory(sql_loader(engine, departments)))
    if clock is not None:
        records.clock = clock
    return records
