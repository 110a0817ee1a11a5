"""Gateway migration 0015 on SQLite and PostgreSQL: the staff pulse's answer rows become counters
by department and week (no row per answer), and its downgrade makes rows with the same counts."""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import command

from services.common.db import normalise_url
from tests.integration.test_gateway_page_answers_migration import config

ANSWERS = [("cardiology", "2026-W49", "heavy", "helped"), ("cardiology", "2026-W49", "heavy", None),
           ("cardiology", "2026-W49", None, "in-the-way"), ("emergency", "2026-W50", "light", "neither")]


def _write(url: str, sql: str, params: dict | list) -> None:
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def _read(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(normalise_url(url))
    try:
        return {t for t in sa.inspect(engine).get_table_names() if t.startswith("staff_pulse")}
    finally:
        engine.dispose()


def _given(rows) -> Counter:
    found = Counter()
    for department, week, workload, system in rows:
        found[(department, week, "workload", workload)] += 1 if workload else 0
        found[(department, week, "system", system)] += 1 if system else 0
    return +found


def test_0015_turns_the_answer_rows_into_counts_and_its_downgrade_back_into_rows(database_url):
    cfg = config(database_url)
    command.upgrade(cfg, "0014_page_answers_staff_pulse")
    _write(database_url, "INSERT INTO staff_pulse_answers (id, department, week, workload, system) "
                         "VALUES (:id, :department, :week, :workload, :system)",
           [{"id": f"a{n}", "department": d, "week": w, "workload": wl, "system": sy}
            for n, (d, w, wl, sy) in enumerate(ANSWERS)])
    _write(database_url, "INSERT INTO staff_pulse_taken (staff_id, week) VALUES ('s-1', '2026-W49')", {})

    command.upgrade(cfg, "0015_staff_pulse_counts")
    assert _tables(database_url) == {"staff_pulse_weeks", "staff_pulse_counts", "staff_pulse_taken"}
    weeks = _read(database_url, "SELECT department, week, answers FROM staff_pulse_weeks")
    counts = _read(database_url, "SELECT department, week, question, answer, count FROM staff_pulse_counts")
    assert sorted(weeks) == [("cardiology", "2026-W49", 3), ("emergency", "2026-W50", 1)]
    assert len(counts) == 2 * 6  # every answer of both questions, for each department's week
    assert Counter({(d, w, q, a): n for d, w, q, a, n in counts if n}) == _given(ANSWERS)
    assert _read(database_url, "SELECT staff_id, week FROM staff_pulse_taken") == [("s-1", "2026-W49")]

    command.downgrade(cfg, "0014_page_answers_staff_pulse")
    assert _tables(database_url) == {"staff_pulse_answers", "staff_pulse_taken"}
    rows = _read(database_url, "SELECT department, week, workload, system FROM staff_pulse_answers")
    assert len(rows) == len(ANSWERS) and _given(rows) == _given(ANSWERS)
