"""The staff pulse kept as counters, not a row per answer (gateway/portal/pulse.py): an answer row
written in the transaction of its person's "asked" row could be paired with it (SQLite's rowid,
PostgreSQL's physical order and xmin). The answers so far become counts and their rows go.

Revision ID: 0015_staff_pulse_counts
Revises: 0014_page_answers_staff_pulse
"""
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0015_staff_pulse_counts"
down_revision = "0014_page_answers_staff_pulse"
branch_labels = None
depends_on = None

# The pulse's questions and answers as this revision knows them (not imported: a migration stays
# as it was written when the code changes later).
QUESTIONS = {"workload": ("light", "about-right", "heavy"), "system": ("helped", "neither", "in-the-way")}


def _answers_table() -> list:
    return [sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("department", sa.String(40), nullable=False),
            sa.Column("week", sa.String(8), nullable=False),
            sa.Column("workload", sa.String(16)),
            sa.Column("system", sa.String(16))]


def upgrade() -> None:
    weeks = op.create_table(
        "staff_pulse_weeks",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("week", sa.String(8), primary_key=True),
        sa.Column("answers", sa.Integer, nullable=False),
    )
    counts = op.create_table(
        "staff_pulse_counts",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("week", sa.String(8), primary_key=True),
        sa.Column("question", sa.String(16), primary_key=True),
        sa.Column("answer", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    answers = sa.table("staff_pulse_answers", *(sa.column(c.name) for c in _answers_table()))
    conn = op.get_bind()
    answered, given = Counter(), Counter()
    for row in conn.execute(sa.select(answers.c.department, answers.c.week, answers.c.workload, answers.c.system)):
        if not (row.workload or row.system):
            continue
        answered[(row.department, row.week)] += 1
        for question in QUESTIONS:
            if getattr(row, question):
                given[(row.department, row.week, question, getattr(row, question))] += 1
    if answered:
        op.bulk_insert(weeks, [{"department": d, "week": w, "answers": n} for (d, w), n in answered.items()])
        op.bulk_insert(counts, [{"department": d, "week": w, "question": q, "answer": a,
                                 "count": given[(d, w, q, a)]}
                                for d, w in answered for q, choices in QUESTIONS.items() for a in choices])
    op.drop_index("ix_staff_pulse_answers_week", table_name="staff_pulse_answers")
    op.drop_table("staff_pulse_answers")


def downgrade() -> None:
    """Back to a row per answer: each week's counts become as many rows as people answered, every
    count kept (which two answers one person gave together is not known any more, so the rows
    pair them in no particular way)."""
    import secrets

    answers = op.create_table("staff_pulse_answers", *_answers_table())
    op.create_index("ix_staff_pulse_answers_week", "staff_pulse_answers", ["week", "department"])
    conn = op.get_bind()
    weeks = conn.execute(sa.text("SELECT department, week, answers FROM staff_pulse_weeks")).all()
    counts = conn.execute(sa.text("SELECT department, week, question, answer, count FROM staff_pulse_counts "
                                  "WHERE count > 0 ORDER BY question, answer")).all()
    rows = []
    for department, week, answered in weeks:
        made = [{"id": secrets.token_hex(16), "department": department, "week": week,
                 "workload": None, "system": None} for _ in range(answered)]
        for question in QUESTIONS:
            given = [a for d, w, q, a, n in counts if (d, w, q) == (department, week, question) for _ in range(n)]
            for row, answer in zip(made, given):
                row[question] = answer
        rows += made
    if rows:
        op.bulk_insert(answers, rows)
    op.drop_table("staff_pulse_counts")
    op.drop_table("staff_pulse_weeks")
