"""The exchange's human measures now (domain/measures.py over the rows adapters give)."""
from __future__ import annotations

import datetime as dt

from services.common.measures import Measure
from services.exchange.domain import measures


def current(uow, now: dt.datetime) -> list[Measure]:
    """Every human measure of the exchange at NOW, read in one transaction."""
    since = now - measures.WINDOW
    with uow:
        released = uow.measures.released(since)
        denials = uow.measures.denial_outcomes(since)
        claims = uow.measures.open_claims(now)
        activation = uow.measures.activation(now)
    return (measures.release_seconds(released) + measures.denials_explained(denials)
            + measures.break_glass(claims) + measures.activation(activation, now.date()))
