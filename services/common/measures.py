"""Human measures: figures about how people fare, read from a service's own tables.

A service (or the gateway) adds *providers* to its app: callables that return the current
:class:`Measure` values (break-the-glass reviews overdue, correction requests near their
60-day limit, reports waiting, ...). The same values are exposed two ways, so they cannot
disagree: as Prometheus gauges on ``/metrics`` (read at scrape time, like
``outbox_parked_events``), and as JSON for the staff console's dashboard.

A provider that reads many rows is wrapped in :class:`Cached`: its figures are read at most
every CACHE_SECONDS, so that a storm of scrapes (or of dashboard views) reads the database once.

Names start ``phr_`` and follow Prometheus's conventions (a unit as the suffix: ``_seconds``,
``_days``, ``_ratio``); labels are a small, closed set (department, language, kind, ...) and
never a patient or a person.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

#: A provider returns the measures it knows, computed now.
Provider = Callable[[], Iterable["Measure"]]

#: Seconds a Cached provider's figures are kept: as long as the broker's lag (services/common/machines.py).
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Measure:
    """One figure: NAME{LABELS} = VALUE, with a one-line HELP for people and Prometheus."""

    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def quantiles(values: Iterable[float], wanted: tuple[float, ...] = (0.5, 0.9)) -> dict[float, float]:
    """The WANTED quantiles of VALUES by the nearest rank ({} when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {q: ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))] for q in wanted}


class Cached:
    """PROVIDER, read at most every SECONDS of CLOCK; the figures of the last read meanwhile.

    One read at a time: a scrape arriving during a read waits for its figures rather than
    reading too. A read that fails is not kept (the next call reads again).
    """

    def __init__(self, provider: Provider, seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.provider, self.seconds, self.clock = provider, seconds, clock
        self.__name__ = getattr(provider, "__name__", type(provider).__name__)
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._found: list[Measure] = []

    def __call__(self) -> list["Measure"]:
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.seconds:
                self._found, self._read_at = list(self.provider()), now
            return self._found

    def expire(self) -> None:
        """Read again at the next call (a test that changed the rows)."""
        with self._lock:
            self._read_at = None


def expire(app) -> None:
    """Make every Cached provider of APP read again at its next call."""
    for provider in providers(app):
        if isinstance(provider, Cached):
            provider.expire()


def providers(app) -> list[Provider]:
    """The measure providers of APP (a Flask app); append to add one."""
    return app.extensions.setdefault("measure_providers", [])


def current(sources: Iterable[Provider]) -> list[Measure]:
    """Every measure SOURCES give now; a provider that fails is logged and skipped."""
    found: list[Measure] = []
    for provider in sources:
        try:
            found.extend(provider())
        except Exception as exc:  # a scrape reports what it can; readiness reports the database
            log.warning("measures of %s not read: %s", getattr(provider, "__name__", provider), exc)
    return found


class MeasureCollector:
    """Prometheus collector exposing the measures of SOURCES as gauges, one family per name."""

    def __init__(self, sources: list[Provider]):
        self.sources = sources

    def describe(self):
        return []  # the families are known only when read

    def collect(self):
        families: dict[str, GaugeMetricFamily] = {}
        for m in current(self.sources):
            family = families.get(m.name)
            if family is None:
                family = families[m.name] = GaugeMetricFamily(m.name, m.help, labels=sorted(m.labels))
            family.add_metric([m.labels[k] for k in sorted(m.labels)], m.value)
        yield from families.values()


def visible_to(found: Iterable[Measure], department: str) -> list[Measure]:
    """The measures of FOUND a member of DEPARTMENT's staff may see: whole-system figures, and
    those labelled with a department only for their own."""
    return [m for m in found if m.labels.get("department", department) == department]


def as_data(service: str, department: str, found: Iterable[Measure]) -> dict:
    """FOUND as contracts/schemas/measures.py MeasuresSchema gives them."""
    return {"service": service, "department": department,
            "measures": [{"name": m.name, "help": m.help, "value": float(m.value), "labels": dict(m.labels)}
                         for m in found]}
