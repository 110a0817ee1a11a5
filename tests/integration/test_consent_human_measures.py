"""The consent service's human measures on its /metrics (services/consent/domain/measures.py), on
SQLite and PostgreSQL: sharing requests open and answered, and how fast patients answer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.common import measures
from services.consent.adapters.tables import sharing_requests
from tests.support.metrics import sample

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(consent):
    consent.service.clock.now = NOW
    return consent.client, consent.engine


def metric(client, name: str, **labels) -> float | None:
    measures.expire(client.application)  # the test changed the rows since the last read
    return sample(client.get("/metrics").get_data(as_text=True), name, **labels)


def ask(engine, n: int, days_ago: float, status="pending", answered_after: float | None = None) -> None:
    created = NOW - timedelta(days=days_ago)
    with engine.begin() as conn:
        conn.execute(sharing_requests.insert().values(
            id=f"sr-{n}", patient="p-1", department="cardiology", requested_by_sub="dr-1",
            classes='["Observation"]', purposes='["TREAT"]', reason="Follow-up", created_at=created,
            status=status, open_key=f"k-{n}" if status == "pending" else None,
            answered_at=created + timedelta(seconds=answered_after) if answered_after is not None else None,
            answered_by_kind="patient" if answered_after is not None else None))


def test_open_and_answered_requests_and_the_time_to_answer_move_with_the_requests(world):
    client, engine = world
    assert metric(client, "phr_sharing_requests", state="open") == 0.0
    assert metric(client, "phr_sharing_request_answer_seconds", quantile="0.5") is None
    ask(engine, 1, days_ago=1)
    ask(engine, 2, days_ago=40)  # nobody answered in 30 days: expired, no longer open
    assert metric(client, "phr_sharing_requests", state="open") == 1.0
    ask(engine, 3, days_ago=2, status="approved", answered_after=60)
    ask(engine, 4, days_ago=2, status="declined", answered_after=600)
    ask(engine, 5, days_ago=2, status="approved", answered_after=3600)
    assert metric(client, "phr_sharing_requests", state="answered") == 3.0
    assert metric(client, "phr_sharing_request_answer_seconds", quantile="0.5") == 600.0
    assert metric(client, "phr_sharing_request_answer_seconds", quantile="0.9") == 3600.0


def test_the_time_to_answer_covers_the_last_90_days_and_the_count_every_answer(world):
    client, engine = world
    ask(engine, 1, days_ago=200, status="approved", answered_after=86400)  # answered long ago
    ask(engine, 2, days_ago=3, status="declined", answered_after=120)
    assert metric(client, "phr_sharing_requests", state="answered") == 2.0
    assert metric(client, "phr_sharing_request_answer_seconds", quantile="0.9") == 120.0


def test_a_scrape_storm_reads_the_figures_once_in_five_seconds(world):
    client, engine = world
    assert metric(client, "phr_sharing_requests", state="open") == 0.0
    ask(engine, 1, days_ago=1)
    # read again at once, without expiring: the figures of the last read
    assert sample(client.get("/metrics").get_data(as_text=True), "phr_sharing_requests", state="open") == 0.0
    assert metric(client, "phr_sharing_requests", state="open") == 1.0
