"""Gateway migration 0014 on SQLite and PostgreSQL: it adds the page answers and the staff pulse
tables with no column that could name a person, and its downgrade takes them away again."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from gateway import MIGRATIONS_DIR
from services.common.db import normalise_url

TABLES = {"page_answers": {"id", "page", "language", "answer", "comment", "day"},
          "staff_pulse_answers": {"id", "department", "week", "workload", "system"},
          "staff_pulse_taken": {"staff_id", "week"}}


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def columns(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(normalise_url(url))
    try:
        found = sa.inspect(engine)
        return {t: {c["name"] for c in found.get_columns(t)} for t in TABLES if found.has_table(t)}
    finally:
        engine.dispose()


def test_0014_adds_the_tables_without_a_person_and_its_downgrade_removes_them(database_url):
    cfg = config(database_url)
    command.upgrade(cfg, "0013_report_and_measure_scopes")
    assert columns(database_url) == {}
    command.upgrade(cfg, "0014_page_answers_staff_pulse")
    assert columns(database_url) == TABLES
    command.downgrade(cfg, "0013_report_and_measure_scopes")
    assert columns(database_url) == {}
