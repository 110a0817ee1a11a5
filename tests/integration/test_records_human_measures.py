"""The records service's human measures on its /metrics (services/records/domain/measures.py), on
SQLite and PostgreSQL: correction requests open, near their 60-day limit, and days to answer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.common import measures
from services.records.adapters.repository import StoredResource
from services.records.adapters.tables import resources
from tests.support.apps import Clock
from tests.support.metrics import sample

NOW = datetime.now(timezone.utc)


def metric(client, name: str, **labels) -> float | None:
    """NAME{LABELS} on /metrics, read afresh (not the figures kept for CACHE_SECONDS)."""
    measures.expire(client.application)
    return sample(client.get("/metrics").get_data(as_text=True), name, **labels)


def task(records, n: int, custodian: str, days_ago: float, status="requested", answered_after_days=None,
         code="change") -> None:
    asked = NOW - timedelta(days=days_ago)
    body = {"resourceType": "Task", "id": f"t-{n}", "status": status, "intent": "order",
            "code": {"coding": [{"code": code}]}, "for": {"reference": "Patient/p-1"},
            "authoredOn": asked.isoformat()}
    if answered_after_days is not None:
        body["lastModified"] = (asked + timedelta(days=answered_after_days)).isoformat()
    with records.service.uow() as uow:
        uow.resources.add(StoredResource("Task", f"t-{n}", 1, NOW, "p-1", custodian, content=body))


def test_open_near_deadline_and_answer_days_move_with_the_requests(records):
    client = records.client
    assert metric(client, "phr_correction_requests_open", department="primary-care") is None
    task(records, 1, "primary-care", days_ago=3)
    task(records, 2, "primary-care", days_ago=55)
    # Near means 50 calendar days or more (domain/measures.py): 48 days ago is 48 or 49 of them
    # whenever the test runs, also across a midnight after NOW was taken (49 was 50 then).
    task(records, 3, "cardiology", days_ago=48)
    task(records, 4, "cardiology", days_ago=10, code="fulfill")  # not a correction request
    assert metric(client, "phr_correction_requests_open", department="primary-care") == 2.0
    assert metric(client, "phr_correction_requests_near_deadline", department="primary-care") == 1.0
    assert metric(client, "phr_correction_requests_open", department="cardiology") == 1.0
    assert metric(client, "phr_correction_requests_near_deadline", department="cardiology") == 0.0
    assert metric(client, "phr_correction_request_answer_days", quantile="0.5") is None
    task(records, 5, "cardiology", days_ago=30, status="completed", answered_after_days=4)
    task(records, 6, "cardiology", days_ago=30, status="rejected", answered_after_days=20)
    assert metric(client, "phr_correction_request_answer_days", quantile="0.5") == 4.0
    assert metric(client, "phr_correction_request_answer_days", quantile="0.9") == 20.0
    assert metric(client, "phr_correction_requests_open", department="cardiology") == 1.0


@pytest.fixture
def timed_records(service_apps, database_url):
    """The records service on a clock the test moves (``timed_records.service.clock.now``)."""
    return service_apps.records(database_url, clock=Clock())


def test_a_request_comes_near_its_deadline_by_the_services_clock(timed_records):
    task(timed_records, 1, "primary-care", days_ago=45)
    assert metric(timed_records.client, "phr_correction_requests_near_deadline", department="primary-care") == 0.0
    timed_records.service.clock.now = NOW + timedelta(days=6)  # 51 days after it was asked
    assert metric(timed_records.client, "phr_correction_requests_near_deadline", department="primary-care") == 1.0


def test_answers_older_than_the_window_are_left_out_and_old_open_requests_still_count(records):
    client = records.client
    task(records, 1, "cardiology", days_ago=200, status="completed", answered_after_days=50)
    task(records, 2, "cardiology", days_ago=30, status="completed", answered_after_days=5)
    task(records, 3, "cardiology", days_ago=120)  # never answered: still waiting, however old
    with records.engine.begin() as conn:  # the old answer was last changed when it was given
        conn.execute(resources.update().where(resources.c.id == "t-1")
                     .values(last_updated=NOW - timedelta(days=150)))
    assert metric(client, "phr_correction_request_answer_days", quantile="0.9") == 5.0
    assert metric(client, "phr_correction_requests_open", department="cardiology") == 1.0
    assert metric(client, "phr_correction_requests_near_deadline", department="cardiology") == 1.0


def test_a_storm_of_scrapes_reads_the_tasks_once_in_five_seconds(records):
    import sqlalchemy as sa
    task(records, 1, "primary-care", days_ago=3)
    measures.expire(records.app)
    reads = []
    sa.event.listen(records.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: reads.append(statement) if "resources" in statement else None)
    for _ in range(20):
        assert "phr_correction_requests_open" in records.client.get("/metrics").get_data(as_text=True)
    assert len(reads) == 1
