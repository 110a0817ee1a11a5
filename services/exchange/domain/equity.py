"""The equity report (docs/architecture.md, "Accessibility and equity"): do some groups fare worse?

For each grouping of patients (preferred language, age band, sex, proxy-managed, interpreter
needed) and each measure, every group gets its number of cases, its value, the ratio of its
value to the best group's, and a flag when that ratio is below ``Thresholds.ratio`` (0.8, the
"four-fifths rule" of adverse-impact analysis). The measures:

- ``activation``: of the patients known to the exchange service, the share with a portal
  account (an offered code never used and no code at all both count against the group);
- ``permitted_exchanges``: of the exchange requests decided (fulfilled or denied), the share
  fulfilled. Requests that failed because a peer did not answer say nothing about the
  patient and are left out, as are those still pending;
- ``time_to_fulfil_p50``: the median seconds from request to release of the fulfilled
  requests. Lower is better, so the ratio is ``best p50 / group p50``.

A group is judged only when it has at least ``min_cases`` cases of that measure and at
least ``min_share`` of the grouping's cases; smaller groups are listed (``judged: false``)
but never flagged and never set the best value, so that one lucky patient does not make
every other group look bad. Patients are grouped as they are when the report is made (age
band from today's date, a caregiver grant in force today); a value the records never gave
is the group ``unknown``.

Pure functions over plain dataclasses: no Flask, SQL or Kafka here.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

GROUPINGS = ("language", "age_band", "sex", "proxy_managed", "interpreter_needed")
MEASURES = ("activation", "permitted_exchanges", "time_to_fulfil_p50")
UNKNOWN = "unknown"
AGE_BANDS = ((0, 17, "0-17"), (18, 39, "18-39"), (40, 64, "40-64"), (65, None, "65+"))
LABELS = {"language": "Preferred language", "age_band": "Age band", "sex": "Sex",
          "proxy_managed": "Managed by a caregiver (proxy)", "interpreter_needed": "Interpreter needed",
          "activation": "Share of patients with an activated portal account",
          "permitted_exchanges": "Share of decided exchange requests that were permitted",
          "time_to_fulfil_p50": "Median seconds from request to release"}
HIGHER_IS_BETTER = {"activation": True, "permitted_exchanges": True, "time_to_fulfil_p50": False}


@dataclass(frozen=True)
class Thresholds:
    """When a gap is large enough to act on, and when a group is too small to judge."""

    ratio: float = 0.8
    min_cases: int = 30
    min_share: float = 0.02


@dataclass(frozen=True)
class Patient:
    """One patient as the report sees them."""

    id: str
    language: str | None = None  # BCP 47 as recorded
    birth_date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    sex: str | None = None
    interpreter_needed: bool | None = None
    proxy_managed: bool = False
    activated: bool = False


@dataclass(frozen=True)
class Exchange:
    """One exchange request that ended: fulfilled (with its seconds to release) or denied."""

    patient: str
    fulfilled: bool
    seconds: float | None = None


@dataclass
class Cell:
    """One group's value of one measure."""

    cases: int
    count: int | None = None  # cases that went well (the rates); None for the median
    value: float | None = None  # the rate, or the median seconds
    ratio: float | None = None
    judged: bool = False
    flagged: bool = False


@dataclass
class Report:
    """Every grouping's groups with a Cell per measure, and the flags raised."""

    thresholds: Thresholds
    patients: int
    exchanges: int
    groupings: dict[str, dict[str, dict[str, Cell]]] = field(default_factory=dict)

    def flags(self) -> list[tuple[str, str, str, float]]:
        """Return (grouping, group, measure, ratio) of every flagged cell, in report order."""
        return [(grouping, group, measure, cell.ratio)
                for grouping, groups in self.groupings.items()
                for group, cells in groups.items()
                for measure, cell in cells.items() if cell.flagged]


def age_band(birth_date: str | None, today: dt.date) -> str:
    """Return the age band of someone born on BIRTH_DATE (a partial date counts from its start)."""
    if not birth_date:
        return UNKNOWN
    parts = [int(p) for p in birth_date.split("-")[:3]] + [1, 1]
    try:
        born = dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        return UNKNOWN
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < 0:
        return UNKNOWN
    for low, high, name in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return name
    return UNKNOWN  # pragma: no cover - the last band is open-ended


def language_group(tag: str | None) -> str:
    """Group BCP 47 tags by their primary language subtag (en-US and en-GB are both en)."""
    return tag.split("-")[0].lower() if tag else UNKNOWN


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def group_of(patient: Patient, grouping: str, today: dt.date) -> str:
    """Return the group PATIENT falls in for GROUPING."""
    if grouping == "language":
        return language_group(patient.language)
    if grouping == "age_band":
        return age_band(patient.birth_date, today)
    if grouping == "sex":
        return patient.sex or UNKNOWN
    if grouping == "proxy_managed":
        return _yes_no(patient.proxy_managed)
    if grouping == "interpreter_needed":
        return _yes_no(patient.interpreter_needed)
    raise ValueError(f"unknown grouping {grouping!r}")


def judge(cells: dict[str, Cell], higher_is_better: bool, thresholds: Thresholds) -> None:
    """Set judged, ratio and flagged on the CELLS of one grouping and measure, in place."""
    total = sum(c.cases for c in cells.values())
    for cell in cells.values():
        cell.judged = (cell.value is not None and cell.cases >= thresholds.min_cases
                       and cell.cases >= thresholds.min_share * total)
    values = [c.value for c in cells.values() if c.judged]
    if not values:
        return
    best = max(values) if higher_is_better else min(values)
    for cell in cells.values():
        cell.ratio = _ratio(cell.value, best, higher_is_better)
        cell.flagged = cell.judged and cell.ratio is not None and cell.ratio < thresholds.ratio


def _ratio(value: float | None, best: float, higher_is_better: bool) -> float | None:
    """Return VALUE against BEST, rounded so that 64 % against 80 % is 0.8 and not flagged."""
    if value is None:
        return None
    if higher_is_better:
        return round(value / best, 6) if best > 0 else None  # everyone at zero: no gap to measure
    if value == 0:
        return 1.0  # as fast as can be (best is then 0 too)
    return round(best / value, 6)


def rate_cell(outcomes: list[bool]) -> Cell:
    """Return the cell of a rate: how many of OUTCOMES went well."""
    good = sum(outcomes)
    return Cell(cases=len(outcomes), count=good, value=good / len(outcomes) if outcomes else None)


def median_cell(seconds: list[float]) -> Cell:
    return Cell(cases=len(seconds), value=statistics.median(seconds) if seconds else None)


def _sort_key(grouping: str, group: str):
    if group == UNKNOWN:
        return (2, 0, group)
    if grouping == "age_band":
        return (0, [name for _, _, name in AGE_BANDS].index(group), group)
    return (1, 0, group)


def build_report(patients: list[Patient], exchanges: list[Exchange], today: dt.date,
                 thresholds: Thresholds = Thresholds()) -> Report:
    """Compare the groups of every grouping on every measure."""
    by_id = {p.id: p for p in patients}
    report = Report(thresholds, len(patients), len(exchanges))
    for grouping in GROUPINGS:
        activation: dict[str, list[bool]] = {}
        permitted: dict[str, list[bool]] = {}
        seconds: dict[str, list[float]] = {}
        for p in patients:
            activation.setdefault(group_of(p, grouping, today), []).append(p.activated)
        for x in exchanges:
            group = group_of(by_id.get(x.patient) or Patient(x.patient), grouping, today)
            permitted.setdefault(group, []).append(x.fulfilled)
            if x.fulfilled and x.seconds is not None:
                seconds.setdefault(group, []).append(max(x.seconds, 0.0))
        groups = sorted({*activation, *permitted}, key=lambda g: _sort_key(grouping, g))
        cells = {g: {"activation": rate_cell(activation.get(g, [])),
                     "permitted_exchanges": rate_cell(permitted.get(g, [])),
                     "time_to_fulfil_p50": median_cell(seconds.get(g, []))} for g in groups}
        for measure in MEASURES:
            judge({g: c[measure] for g, c in cells.items()}, HIGHER_IS_BETTER[measure], thresholds)
        report.groupings[grouping] = cells
    return report
