"""How people fare with the exchange, as figures (services/common/measures.py): time from request
to release, denials explained, break-the-glass claims open and overdue, portal activation by
group. Pure: the rows come from adapters/measures.py, the clock from the caller."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from services.common.measures import Measure, quantiles
from services.exchange.domain import equity
from services.exchange.domain.model import PENDING
from services.exchange.domain.staff import NEXT_STEPS, REVIEW_DUE

RELEASE_HELP = "Seconds from an exchange request to the release of the records, by requesting department"
EXPLAINED_HELP = "Share of denied exchange requests whose reason was shown in words with a next step"
OPEN_HELP = "Break-the-glass claims not yet reviewed, by the patient's custodian department"
OVERDUE_HELP = "Break-the-glass claims unreviewed 72 hours after the claim, by custodian department"
ACTIVATION_HELP = "Share of patients with an active portal account, by group (grouping:group)"


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


def denials_explained(outcomes: list[str | None]) -> list[Measure]:
    """The share of the denials' OUTCOMES that are explained; nothing before the first denial."""
    if not outcomes:
        return []
    share = sum(explained(o) for o in outcomes) / len(outcomes)
    return [Measure("phr_denials_explained_ratio", EXPLAINED_HELP, share)]


def break_glass(open_claims: Iterable[tuple[str, dt.datetime]], now: dt.datetime) -> list[Measure]:
    """Open and overdue counts of the (custodian department, claimed at) of OPEN_CLAIMS at NOW."""
    opened: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for department, claimed_at in open_claims:
        opened[department] = opened.get(department, 0) + 1
        overdue[department] = overdue.get(department, 0) + (claimed_at <= now - REVIEW_DUE)
    return [m for d in sorted(opened) for m in (
        Measure("phr_break_glass_claims_open", OPEN_HELP, opened[d], {"department": d}),
        Measure("phr_break_glass_reviews_overdue", OVERDUE_HELP, overdue[d], {"department": d}))]


def activation(patients: list[equity.Patient], today: dt.date) -> list[Measure]:
    """The share of PATIENTS activated in each group of each grouping of the equity report."""
    report = equity.build_report(patients, [], today)
    return [Measure("phr_portal_activation_ratio", ACTIVATION_HELP, cells["activation"].value,
                    {"group": f"{grouping}:{group}"})
            for grouping, groups in report.groupings.items()
            for group, cells in groups.items() if cells["activation"].value is not None]
