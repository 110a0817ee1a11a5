"""The staff's pulse: two optional questions, at most once a week, answered anonymously.

"How is your workload today?" (light, about right, heavy) and "Did the system help you or get
in the way?" (helped, neither, got in the way). A member of staff may answer, or say "not this
week"; either way they are not asked again until the next ISO week.

Anonymous by design: no answer is kept as a row of its own. Counters by department and ISO week
(how many answered, and how many gave each answer to each question) are all there is, so no row,
row order or transaction id pairs an answer with a person. "Asked this week" is a separate table
of (person, week) that holds no answer. A signed cookie would keep even that out of the database,
but it would ask again in every other browser and after every sign-out; the bare (person, week)
row tells nobody what the person said.

The "asked" row and the counters are written in two transactions, the counters after: in one,
the "asked" row and the counter rows it changed would carry the same transaction id (PostgreSQL's
xmin). A crash between the two loses that one answer; it never counts it twice. Each answer
updates every counter of its department's week (adding 0 to the answers not given), so which
rows a transaction touched does not say what it counted either.

This keeps answers from whoever reads the figures, the API or the tables as they are. It does not
keep them from the database's operators, who can see writes as they happen (statement logs, the
write-ahead log, two snapshots a moment apart): they could pair a person's "asked" row with the
counters that moved just after. Folding answers into the counters only when the week ends would
close that; it is not done.

Results are shown (the measure ``phr_staff_pulse`` and the dashboard) only for completed ISO
weeks, never the current one, and a department's week counts only when it had at least
``SMALLEST_GROUP`` answers in that week: figures that moved while the week went on would tell
whoever read them before and after a colleague answered what that colleague said, and in a
smaller group people could tell who said what. The period is the last ``PERIOD_WEEKS``
completed weeks, so the figures change once a week, by whole groups of 5 or more.
"""
from __future__ import annotations

import datetime as dt
import sqlalchemy as sa

from gateway import schema as t, storage
from gateway.storage import TableStore, inserted
from services.common.i18n import N_
from services.common.measures import Measure

QUESTIONS = {
    "workload": (N_("How is your workload today?"),
                 {"light": N_("Light"), "about-right": N_("About right"), "heavy": N_("Heavy")}),
    "system": (N_("Did the system help you or get in the way today?"),
               {"helped": N_("It helped"), "neither": N_("Neither"), "in-the-way": N_("It got in the way")}),
}
SMALLEST_GROUP = 5
PERIOD_WEEKS = 4  # the figures shown cover this many completed ISO weeks (never the current one)
HELP = ("Staff pulse answers of the last 4 completed weeks by department, question and answer "
        "(a department's week counts only with 5 or more answers in it)")


def week_of(day: dt.date) -> str:
    """The ISO week of DAY, as "2026-W49"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def this_week() -> str:
    return week_of(dt.datetime.fromtimestamp(storage.now(), dt.timezone.utc).date())


def period(weeks: int = PERIOD_WEEKS) -> list[str]:
    """The last WEEKS completed ISO weeks: the period ends with last week, never this one."""
    today = dt.datetime.fromtimestamp(storage.now(), dt.timezone.utc).date()
    return [week_of(today - dt.timedelta(weeks=n)) for n in range(1, weeks + 1)]


class StaffPulse(TableStore):
    """The pulse's counters (no person) and who was asked which week (no answer)."""

    def asked(self, staff_id: str, week: str) -> bool:
        c = t.staff_pulse_taken.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(c.week).where(c.staff_id == staff_id, c.week == week)).first() is not None

    def answer(self, staff_id: str, department: str, week: str, workload: str | None,
               system: str | None) -> bool:
        """Count the answers (both None: "not this week", which adds 0 everywhere); False when
        STAFF_ID answered this week already. A crash between the two transactions loses this one
        answer and never counts it twice (see the module's docstring)."""
        with self.engine.begin() as conn:
            if not inserted(conn, t.staff_pulse_taken, staff_id=staff_id, week=week):
                return False
        with self.engine.begin() as conn:
            # "not this week" touches the same rows as an answer, so a database reader cannot
            # tell from the writes after an "asked" row whether that person answered
            _count(conn, department, week, {"workload": workload, "system": system})
        return True

    def results(self, weeks: list[str], department: str | None = None) -> list[tuple[str, str, str, int]]:
        """(department, question, answer, how many) over WEEKS, counting a department's (or
        DEPARTMENT's) week only when it had at least SMALLEST_GROUP answers in that week."""
        w, c = t.staff_pulse_weeks.c, t.staff_pulse_counts.c
        big = [w.week.in_(weeks), w.answers >= SMALLEST_GROUP] + ([w.department == department] if department else [])
        query = (sa.select(c.department, c.question, c.answer, sa.func.sum(c.count))
                 .join_from(t.staff_pulse_counts, t.staff_pulse_weeks,
                            sa.and_(c.department == w.department, c.week == w.week))
                 .where(*big, c.count > 0)
                 .group_by(c.department, c.question, c.answer))
        with self.engine.connect() as conn:
            return sorted((dept, question, answer, int(n)) for dept, question, answer, n in conn.execute(query))


def _count(conn, department: str, week: str, given: dict[str, str | None]) -> None:
    """Add one answer to DEPARTMENT's WEEK: its answers count and the count of each answer GIVEN,
    in one UPDATE each that adds 0 to every other counter of the week (module docstring). With
    nothing GIVEN ("not this week") the same rows are written, adding 0 to all of them."""
    w, c = t.staff_pulse_weeks.c, t.staff_pulse_counts.c
    key = (w.department == department, w.week == week)
    add = 1 if any(given.values()) else 0
    if not conn.execute(sa.update(t.staff_pulse_weeks).where(*key).values(answers=w.answers + add)).rowcount:
        # the week's first answer makes every counter at 0 (so the rows made say nothing about
        # what was answered); a concurrent first answer (PostgreSQL) may make them first
        if inserted(conn, t.staff_pulse_weeks, department=department, week=week, answers=add):
            conn.execute(sa.insert(t.staff_pulse_counts), [
                {"department": department, "week": week, "question": q, "answer": a, "count": 0}
                for q, (_text, answers) in QUESTIONS.items() for a in answers])
        else:
            conn.execute(sa.update(t.staff_pulse_weeks).where(*key).values(answers=w.answers + add))
    chosen = [sa.and_(c.question == q, c.answer == a) for q, a in given.items() if a]
    conn.execute(sa.update(t.staff_pulse_counts)
                 .where(c.department == department, c.week == week)
                 .values(count=c.count + sa.case((sa.or_(sa.false(), *chosen), 1), else_=0)))


def measures(store: StaffPulse):
    """The provider of ``phr_staff_pulse{department,question,answer}`` over STORE."""
    def staff_pulse():
        return [Measure("phr_staff_pulse", HELP, n, {"department": d, "question": q, "answer": a})
                for d, q, a, n in store.results(period())]
    return staff_pulse
