"""Correction requests against their 60-day limit, as figures (services/common/measures.py).
Pure: the Tasks come from adapters/correction_queries.py, the day from the caller.

The open requests are all counted (what waits now); the days to answer cover the requests
answered in the last WINDOW. The adapter reads only those Tasks: their fields live in the
Task's JSON, so the database selects the rows and this module counts them."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable

from services.common.measures import Measure, quantiles
from services.records.domain.corrections import ANSWER_WITHIN_DAYS, ANSWERED, OPEN, correction_of, is_correction, parse_instant

#: An open request this many days old or older is near its 60-day limit (or past it).
NEAR_DEADLINE_DAYS = 50
#: How far back the days to answer look.
WINDOW = timedelta(days=90)
OPEN_HELP = "Correction requests waiting for the custodian department's answer"
NEAR_HELP = f"Open correction requests {NEAR_DEADLINE_DAYS} days old or more (the limit is {ANSWER_WITHIN_DAYS})"
DAYS_HELP = "Days from a correction request to the department's answer"


def corrections(tasks: Iterable[tuple[str, dict]], today: date) -> list[Measure]:
    """Open, near-deadline (per custodian department) and answer days of the correction
    requests among TASKS, (custodian, Task) pairs, on TODAY."""
    opened: dict[str, int] = {}
    near: dict[str, int] = {}
    answer_days: list[float] = []
    for custodian, task in tasks:
        if not is_correction(task):
            continue
        c = correction_of(task)
        if c.status in OPEN:
            opened[custodian] = opened.get(custodian, 0) + 1
            near[custodian] = near.get(custodian, 0) + ((today - c.asked.date()).days >= NEAR_DEADLINE_DAYS)
        elif c.status in ANSWERED and task.get("lastModified"):
            answer_days.append(days_between(c.asked, parse_instant(task["lastModified"])))
    return [m for d in sorted(opened) for m in (
        Measure("phr_correction_requests_open", OPEN_HELP, opened[d], {"department": d}),
        Measure("phr_correction_requests_near_deadline", NEAR_HELP, near[d], {"department": d}))] + [
        Measure("phr_correction_request_answer_days", DAYS_HELP, value, {"quantile": f"{q:g}"})
        for q, value in quantiles(answer_days).items()]


def days_between(asked: datetime, answered: datetime) -> float:
    return max((answered - asked).total_seconds(), 0.0) / 86400
