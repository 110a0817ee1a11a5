"""The exchange's human measures on its /metrics (services/exchange/domain/measures.py), on SQLite
and PostgreSQL: each figure moves as the exchange's own tables do."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.common import measures
from services.exchange.adapters import tables as t
from tests.support.apps import Clock
from tests.support.metrics import families, sample

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(exchange):
    exchange.service.flow.clock = clock = Clock()
    clock.now = NOW
    return exchange.client, exchange.engine


def metric(client, name: str, **labels) -> float | None:
    """NAME{LABELS} on /metrics, read afresh (not the figures kept for CACHE_SECONDS)."""
    measures.expire(client.application)
    return sample(client.get("/metrics").get_data(as_text=True), name, **labels)


def request_row(n: int, requester: str, status: str, outcome: str | None, seconds: float) -> dict:
    created = NOW - timedelta(hours=1)
    return {"id": f"r-{n}", "patient": "p-1", "requester": requester, "purpose": "TREAT",
            "resource_types": "[]", "status": status, "step": "done", "outcome": outcome,
            "redact_labels": "[]", "obligations": "[]", "attempts": 0, "next_attempt_at": created,
            "created_at": created, "updated_at": created + timedelta(seconds=seconds)}


def insert(engine, table, *rows) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), list(rows))


def test_release_time_is_shown_per_department_at_the_median_and_ninetieth_percentile(world):
    client, engine = world
    assert metric(client, "phr_exchange_release_seconds", department="cardiology", quantile="0.5") is None
    insert(engine, t.exchange_requests, *[request_row(n, "cardiology", "fulfilled", "released", s)
                                          for n, s in enumerate((10, 20, 30, 40, 100))])
    insert(engine, t.exchange_requests, request_row(9, "emergency", "fulfilled", "released", 5))
    assert metric(client, "phr_exchange_release_seconds", department="cardiology", quantile="0.5") == 30.0
    assert metric(client, "phr_exchange_release_seconds", department="cardiology", quantile="0.9") == 100.0
    assert metric(client, "phr_exchange_release_seconds", department="emergency", quantile="0.9") == 5.0


def test_the_share_of_denials_explained_falls_when_a_denial_has_no_words(world):
    client, engine = world
    assert metric(client, "phr_denials_explained_ratio") is None
    insert(engine, t.exchange_requests, request_row(1, "cardiology", "denied", "no-consent", 1),
           request_row(2, "cardiology", "denied", "consent-withdrawn", 1))
    assert metric(client, "phr_denials_explained_ratio") == 1.0
    insert(engine, t.exchange_requests, request_row(3, "cardiology", "denied", None, 1),
           request_row(4, "cardiology", "denied", "a-code-nobody-worded", 1))
    assert metric(client, "phr_denials_explained_ratio") == 0.5


def test_break_glass_claims_are_open_then_overdue_after_72_hours_then_gone_when_reviewed(world):
    client, engine = world
    insert(engine, t.patient_index, {"patient_id": "p-1", "custodian": "primary-care", "resource_count": 1,
                                     "resource_types": "{}", "last_event_id": "e-1", "updated_at": NOW})

    def claim(claim_id, hours_ago):
        insert(engine, t.break_glass_reviews, {
            "claim_id": claim_id, "patient": "p-1", "department": "emergency",
            "claimed_at": NOW - timedelta(hours=hours_ago), "reason": "Unconscious", "sensitive": "[]",
            "priority": False})

    claim("g-1", 1)
    claim("g-2", 73)
    assert metric(client, "phr_break_glass_claims_open", department="primary-care") == 2.0
    assert metric(client, "phr_break_glass_reviews_overdue", department="primary-care") == 1.0
    with engine.begin() as conn:
        conn.execute(t.break_glass_reviews.update().where(t.break_glass_reviews.c.claim_id == "g-2")
                     .values(outcome="justified", reviewed_at=NOW))
    assert metric(client, "phr_break_glass_claims_open", department="primary-care") == 1.0
    assert metric(client, "phr_break_glass_reviews_overdue", department="primary-care") == 0.0


def test_portal_activation_is_shown_per_group_from_the_equity_projection(world):
    client, engine = world
    insert(engine, t.equity_patients,
           {"patient_id": "p-1", "language": "es", "activated_at": NOW, "updated_at": NOW},
           {"patient_id": "p-2", "language": "es", "activated_at": None, "updated_at": NOW},
           {"patient_id": "p-3", "language": "en", "activated_at": NOW, "updated_at": NOW})
    assert metric(client, "phr_portal_activation_ratio", group="language:es") == 0.5
    assert metric(client, "phr_portal_activation_ratio", group="language:en") == 1.0
    with engine.begin() as conn:
        conn.execute(t.equity_patients.update().where(t.equity_patients.c.patient_id == "p-2")
                     .values(activated_at=NOW))
    assert metric(client, "phr_portal_activation_ratio", group="language:es") == 1.0


def test_releases_and_denials_older_than_the_window_are_left_out(world):
    client, engine = world
    old = {"created_at": NOW - timedelta(days=100), "updated_at": NOW - timedelta(days=99)}
    insert(engine, t.exchange_requests, {**request_row(1, "cardiology", "fulfilled", "released", 0), **old},
           {**request_row(2, "cardiology", "denied", None, 0), **old},
           request_row(3, "cardiology", "fulfilled", "released", 20),
           request_row(4, "cardiology", "denied", "no-consent", 1))
    assert metric(client, "phr_exchange_release_seconds", department="cardiology", quantile="0.5") == 20.0
    assert metric(client, "phr_denials_explained_ratio") == 1.0  # the unworded denial is 99 days old


def test_portal_activation_per_group_agrees_with_the_equity_report(world):
    from services.exchange.domain import equity
    client, engine = world
    patients = [  # language, birth date (full, partial, none), sex, interpreter, caregiver grant
        ("p-1", "es-MX", "1950-06-01", "female", True, True), ("p-2", "es", "2015", "male", None, False),
        ("p-3", "en", None, None, False, True), ("p-4", None, "1990-03", "female", True, False),
        ("p-5", "EN-gb", "1990-03-20", "other", False, False)]
    insert(engine, t.equity_patients, *[
        {"patient_id": p, "language": lang, "birth_date": born, "sex": sex, "interpreter_needed": interp,
         "activated_at": NOW if p in ("p-1", "p-3", "p-5") else None, "updated_at": NOW}
        for p, lang, born, sex, interp, _ in patients])
    insert(engine, t.equity_proxies, *[
        {"grant_id": f"g-{p}", "patient": p, "activated_at": NOW, "ends_at": NOW + timedelta(days=30)}
        for p, *_, grant in patients if grant])
    with engine.connect() as conn:
        from services.exchange.adapters.repository import SqlEquityProjection
        people, _ = SqlEquityProjection(conn).load(NOW)
    report = equity.build_report(people, [], NOW.date())
    expected = {f"{grouping}:{group}": cells["activation"].value
                for grouping, groups in report.groupings.items() for group, cells in groups.items()}
    assert len(expected) >= 14
    text = client.get("/metrics").get_data(as_text=True)
    shown = {s.labels["group"]: s.value for f in families(text) for s in f.samples
             if s.name == "phr_portal_activation_ratio"}
    assert shown == expected
