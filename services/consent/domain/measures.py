"""How patients answer departments' sharing requests, as figures (services/common/measures.py).
Pure: the rows come from adapters/repository.py SqlMeasures."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from services.common.measures import Measure, quantiles

REQUESTS_HELP = "Sharing requests from departments: waiting for the patient (open) and answered"
ANSWER_HELP = "Seconds from a department's sharing request to the patient's answer (answers of the last 90 days)"
#: The time to answer covers the answers of this window, as the exchange's and records' times do
#: (services/exchange/domain/measures.py): a scrape reads a bounded set of rows, and the figure
#: follows today's service rather than every year's.
WINDOW = timedelta(days=90)


def sharing_requests(open_: int, answered: int, recent: list[tuple[datetime, datetime]]) -> list[Measure]:
    """How many requests are OPEN_ and were ANSWERED, and how fast the RECENT answers were."""
    return [Measure("phr_sharing_requests", REQUESTS_HELP, open_, {"state": "open"}),
            Measure("phr_sharing_requests", REQUESTS_HELP, answered, {"state": "answered"}),
            *answer_seconds((answered_at - asked_at).total_seconds() for asked_at, answered_at in recent)]


def answer_seconds(seconds: Iterable[float]) -> list[Measure]:
    return [Measure("phr_sharing_request_answer_seconds", ANSWER_HELP, value, {"quantile": f"{q:g}"})
            for q, value in quantiles(max(s, 0.0) for s in seconds).items()]
