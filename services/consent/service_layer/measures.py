"""The consent service's human measures now (domain/measures.py over the rows adapters give)."""
from __future__ import annotations

from datetime import datetime

from services.common.measures import Measure
from services.consent.domain import measures


def current(uow, now: datetime) -> list[Measure]:
    """Every human measure of the consent service at NOW, read in one transaction."""
    with uow:
        open_ = uow.measures.open_requests(now)
        answered = uow.measures.answered_count()
        recent = uow.measures.answered_since(now - measures.WINDOW)
    return measures.sharing_requests(open_, answered, recent)
