"""How people fare with the exchange, as figures (services/common/measures.py): time from request
to release, denials explained, break-the-glass claims open and overdue, portal activation by
group. Pure: the counts and rows come from adapters/repository.py SqlMeasures, the clock from
the caller.

The figures of what waits now (claims open and overdue) and of everyone (activation) count
every row; those about what happened (release time, denials explained) cover the last
WINDOW, so that a scrape reads a bounded set of rows and the figure follows today's service."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from services.common.measures import Measure, quantiles
from services.exchange.domain import equity
from services.exchange.domain.model import PENDING
from services.exchange.domain.staff import NEXT_STEPS

RELEASE_HELP = "Seconds from an exchange request to the release of the records, by requesting department"
EXPLAINED_HELP = "Share of denied exchange requests whose reason was shown in words with a next step"
OPEN_HELP = "Break-the-glass claims not yet reviewed, by the patient's custodian department"
OVERDUE_HELP = "Break-the-glass claims unreviewed 72 hours after the claim, by custodian department"
ACTIVATION_HELP = "Share of patients with an active portal account, by group (grouping:group)"
#: How far back the figures about what happened look.
WINDOW = dt.timedelta(days=90)
#: The Patient field each equity grouping reads (equity.group_of).
_GROUPED_BY = {"language": "language", "age_band": "birth_date", "sex": "sex",
               "proxy_managed": "proxy_managed", "interpreter_needed": "interpreter_needed"}


def release_seconds(released: Iterable[tuple[str, float]]) -> list[Measure]:
    """p50 and p90 of the (department, seconds) of RELEASED requests, per department."""
    by_department: dict[str, list[float]] = {}
    for department, seconds in released:
        by_department.setdefault(department, []).append(max(seconds, 0.0))
    return [Measure("phr_exchange_release_seconds", RELEASE_HELP, value,
                    {"department": department, "quantile": f"{q:g}"})
            for department, values in sorted(by_department.items())
            for q, value in quantiles(values).items()]


def explained(outcome: str | None) -> bool:
    """Whether a denial with OUTCOME is told in words with a next step (entrypoints/wording.py
    words every outcome of domain/staff.py NEXT_STEPS)."""
    return outcome is not None and outcome != PENDING and outcome in NEXT_STEPS


def denials_explained(outcomes: dict[str | None, int]) -> list[Measure]:
    """The share of denials explained, from how many had each of OUTCOMES; nothing before the
    first denial."""
    total = sum(outcomes.values())
    if not total:
        return []
    share = sum(n for o, n in outcomes.items() if explained(o)) / total
    return [Measure("phr_denials_explained_ratio", EXPLAINED_HELP, share)]


def break_glass(open_claims: Iterable[tuple[str, int, int]]) -> list[Measure]:
    """Open and overdue counts of OPEN_CLAIMS, (custodian department, open, overdue) triples
    (overdue: REVIEW_DUE after the claim, which the adapter counts at the caller's now)."""
    return [m for d, opened, overdue in sorted(open_claims) for m in (
        Measure("phr_break_glass_claims_open", OPEN_HELP, opened, {"department": d}),
        Measure("phr_break_glass_reviews_overdue", OVERDUE_HELP, overdue, {"department": d}))]


def activation(counts: dict[str, list[tuple[object, bool, int]]], today: dt.date) -> list[Measure]:
    """The share of patients activated in each group of each equity grouping, from COUNTS:
    {grouping: [(the value it groups by, activated, patients)]}, grouped as the equity report
    groups them on TODAY (equity.group_of)."""
    found = []
    for grouping in equity.GROUPINGS:
        groups: dict[str, list[int]] = {}
        for value, activated, n in counts.get(grouping, []):
            group = equity.group_of(equity.Patient(id="", **{_GROUPED_BY[grouping]: value}), grouping, today)
            cases = groups.setdefault(group, [0, 0])
            cases[0] += n
            cases[1] += n if activated else 0
        found += [Measure("phr_portal_activation_ratio", ACTIVATION_HELP, active / patients,
                          {"group": f"{grouping}:{group}"})
                  for group, (patients, active) in sorted(groups.items()) if patients]
    return found
