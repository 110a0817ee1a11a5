"""The reports' human measures (services/common/measures.py): how many wait, by kind, and how long
people wait for an acknowledgement and for a close."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Engine

from contracts.vocabulary import REPORT_KINDS
from services.common.measures import Measure, Provider
from services.exchange.adapters.report_repository import SqlReports
from services.exchange.domain.measures import WINDOW

QUANTILES = (0.5, 0.9)


def quantile(values: list[float], q: float) -> float:
    """The Q quantile of VALUES (nearest rank); 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report_measures(engine: Engine, clock: Callable[[], datetime]) -> Provider:
    """A provider of phr_reports_open{kind}, phr_reports_acknowledge_seconds{quantile} and
    phr_reports_close_days{quantile} read from ENGINE's reports. A report not yet acknowledged
    counts as waiting until now (CLOCK), so a queue nobody reads shows as slow, not as empty.

    An anonymous report keeps only the day it came (domain/reports.py received_time): it is left
    out of the seconds to acknowledge, which it would make up to a day longer, and counted in the
    days to close, where a part of a day is within the measure's grain. Its waiting still shows
    in phr_reports_open.

    The open counts are counted by the database; the times are those of the reports received
    in the last WINDOW (domain/measures.py) and of every report not answered yet."""

    def measures() -> list[Measure]:
        now = clock()
        with engine.connect() as conn:
            repo = SqlReports(conn)
            open_, times = repo.open_by_kind(), repo.times(now - WINDOW)
        acknowledge = [((ack or now) - got).total_seconds() for got, ack, _closed, day_only in times
                       if not day_only]
        close = [(closed - got).total_seconds() / 86400 for got, _ack, closed, _day in times if closed]
        found = [Measure("phr_reports_open", "Reports not closed yet, by kind", float(open_.get(k, 0)), {"kind": k})
                 for k in REPORT_KINDS]
        for q in QUANTILES:
            found.append(Measure("phr_reports_acknowledge_seconds",
                                 "Time from a report to its first answer (not answered yet: until now)",
                                 quantile(acknowledge, q), {"quantile": str(q)}))
            found.append(Measure("phr_reports_close_days", "Days from a report to its close (closed reports)",
                                 quantile(close, q), {"quantile": str(q)}))
        return found

    return measures
