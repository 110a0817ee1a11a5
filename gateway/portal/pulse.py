"""The staff's pulse: two optional questions, at most once a week, answered anonymously.

"How is your workload today?" (light, about right, heavy) and "Did the system help you or get
in the way?" (helped, neither, got in the way). A member of staff may answer, or say "not this
week"; either way they are not asked again until the next ISO week.

Anonymous by design: an answer row holds only the department, the ISO week and the two answers,
under a random id and with no time, so nothing in it (not even the order rows were written in)
points at a person. "Asked this week" is a separate table of (person, week) that holds no
answer. A signed cookie would keep even that out of the database, but it would ask again in
every other browser and after every sign-out; the bare (person, week) row tells nobody what
the person said. Both are written in one transaction, so an answer cannot be counted twice.

Results are shown (the measure ``phr_staff_pulse`` and the dashboard) only for completed ISO
weeks, never the current one, and a department's week counts only when it had at least
``SMALLEST_GROUP`` answers in that week: figures that moved while the week went on would tell
whoever read them before and after a colleague answered what that colleague said, and in a
smaller group people could tell who said what. The period is the last ``PERIOD_WEEKS``
completed weeks, so the figures change once a week, by whole groups of 5 or more.
"""
from __future__ import annotations

import datetime as dt
import secrets

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
    """The pulse's answers (no person) and who was asked which week (no answer)."""

    def asked(self, staff_id: str, week: str) -> bool:
        c = t.staff_pulse_taken.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(c.week).where(c.staff_id == staff_id, c.week == week)).first() is not None

    def answer(self, staff_id: str, department: str, week: str, workload: str | None,
               system: str | None) -> bool:
        """Keep the answers (both None: "not this week"); False when STAFF_ID answered this week already."""
        with self.engine.begin() as conn:
            if not inserted(conn, t.staff_pulse_taken, staff_id=staff_id, week=week):
                return False
            if workload or system:
                conn.execute(sa.insert(t.staff_pulse_answers).values(
                    id=secrets.token_hex(16), department=department, week=week,
                    workload=workload, system=system))
        return True

    def results(self, weeks: list[str], department: str | None = None) -> list[tuple[str, str, str, int]]:
        """(department, question, answer, how many) over WEEKS, counting a department's (or
        DEPARTMENT's) week only when it had at least SMALLEST_GROUP answers in that week."""
        c = t.staff_pulse_answers.c
        where = [c.week.in_(weeks)] + ([c.department == department] if department else [])
        big = (sa.select(c.department, c.week).where(*where).group_by(c.department, c.week)
               .having(sa.func.count() >= SMALLEST_GROUP))
        found = []
        with self.engine.connect() as conn:
            for question in QUESTIONS:
                column = c[question]
                query = (sa.select(c.department, column, sa.func.count())
                         .where(*where, sa.tuple_(c.department, c.week).in_(big), column.is_not(None))
                         .group_by(c.department, column).order_by(c.department, column))
                found += [(dept, question, answer, n) for dept, answer, n in conn.execute(query)]
        return sorted(found)


def measures(store: StaffPulse):
    """The provider of ``phr_staff_pulse{department,question,answer}`` over STORE."""
    def staff_pulse():
        return [Measure("phr_staff_pulse", HELP, n, {"department": d, "question": q, "answer": a})
                for d, q, a, n in store.results(period())]
    return staff_pulse
