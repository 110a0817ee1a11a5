"""The exchange's own gauges on /metrics, read from its tables at scrape time."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.exchange.adapters.repository import SqlBreakGlassReviews

log = logging.getLogger(__name__)


class BreakGlassReviewGauge:
    """``exchange_break_glass_reviews{state="open"|"overdue"}``: claims waiting for a privacy
    officer's review, and those of them not reviewed 72 hours after the claim (CLOCK: the
    service's clock). Counted from the queue, so the worker that fills it needs no /metrics."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self.engine, self.clock = engine, clock

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("exchange_break_glass_reviews",
                                 "Break-the-glass claims not reviewed yet (open), and those overdue",
                                 labels=["state"])

    def describe(self):
        yield self._family()

    def collect(self):
        family = self._family()
        try:
            with self.engine.connect() as conn:
                open_, overdue = SqlBreakGlassReviews(conn).counts(self.clock())
        except Exception as exc:  # a scrape reports what it can; readiness reports the database
            log.warning("break-the-glass reviews not counted: %s", exc)
            yield family
            return
        family.add_metric(["open"], open_)
        family.add_metric(["overdue"], overdue)
        yield family
