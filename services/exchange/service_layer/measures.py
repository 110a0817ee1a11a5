"""The exchange's human measures now (domain/measures.py over the rows adapters give)."""
from __future__ import annotations

import datetime as dt

from services.common.measures import Measure
from services.exchange.domain import measures


def current(uow, now: dt.datetime) -> list[Measure]:
    """Every human measure of the exchange at NOW, read in one transaction."""
    with uow:
        released = uow.measures.released()
        denials = uow.measures.denial_outcomes()
        claims = uow.measures.open_claims()
        patients, _exchanges = uow.equity.load(now)
    return (measures.release_seconds(released) + measures.denials_explained(denials)
            + measures.break_glass(claims, now) + measures.activation(patients, now.date()))
