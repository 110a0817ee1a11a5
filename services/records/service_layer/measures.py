"""The records service's human measures now (domain/measures.py over the Tasks adapters give)."""
from __future__ import annotations

from datetime import datetime

from services.common.measures import Measure
from services.records.adapters import correction_queries as cq
from services.records.domain import measures


def current(uow, now: datetime) -> list[Measure]:
    """Every human measure of the records service at NOW, read in one transaction."""
    with uow:
        tasks = [(t.custodian, t.body()) for t in cq.measured_tasks(uow.conn, now - measures.WINDOW)]
    return measures.corrections(tasks, now.date())
