"""Wire the consent service's dependencies once per process."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy.engine import Engine

from contracts.events import EventChecker
from services.common.config import Settings
from services.common.db import make_engine
from services.common.directory import Directory, sql_loader
from services.consent.adapters.repository import DecisionReads
from services.consent.adapters.tables import departments
from services.consent.domain.model import Decision
from services.consent.service_layer import handlers
from services.consent.service_layer.unit_of_work import DecisionUnitOfWork, SqlUnitOfWork


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ConsentService:
    """The consent service's dependencies: settings, database, event checks, the directory of
    departments, clock."""

    settings: Settings
    engine: Engine
    events: EventChecker
    #: The departments as this service knows them (its table, kept by the worker from
    #: phr.directory.v1): one per process, shared by the token check, the views and the fast path.
    directory: Directory
    clock: Callable[[], datetime] = field(default=utc_now)
    reads: DecisionReads | None = None
    #: Told the seconds each decision took (the HTTP process's phr_decision_duration_seconds).
    decision_seconds: Callable[[float], None] = field(default=lambda seconds: None)

    def uow(self, write: bool = True) -> SqlUnitOfWork:
        """Start a unit of work."""
        return SqlUnitOfWork(self.engine, write=write, checker=self.events)

    def decide(self, q: handlers.AskDecision) -> Decision:
        """Answer Q now (the view and the fast path both ask here), timing the answer."""
        started = time.perf_counter()
        try:
            decision = handlers.decide(q, self.decision_uow(), self.clock(), self.directory)
            return handlers.with_start_window(decision, self.settings.revoke_settle_ms)
        finally:
            self.decision_seconds(time.perf_counter() - started)

    def settle_revocation(self, consent) -> None:
        """Hold a department's revoke answer back (handlers.settle_revocation)."""
        handlers.settle_revocation(consent, self.settings.revoke_settle_ms, time.sleep)

    def decision_uow(self) -> DecisionUnitOfWork:
        """Start the decision path's read (its statements compiled once for this engine)."""
        if self.reads is None:
            self.reads = DecisionReads(self.engine.dialect)
        return DecisionUnitOfWork(self.engine, self.reads)


def bootstrap(settings: Settings, engine: Engine | None = None,
              clock: Callable[[], datetime] | None = None) -> ConsentService:
    """Build the dependencies from SETTINGS (or use the ENGINE and CLOCK a test gives)."""
    engine = engine or make_engine(settings.database_url)
    return ConsentService(settings, engine, EventChecker(settings.contract_checks),
                          Directory(sql_loader(engine, departments)), clock or utc_now)
