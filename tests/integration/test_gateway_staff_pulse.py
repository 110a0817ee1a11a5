"""The staff's weekly pulse in the console (gateway/portal/pulse.py, console_pulse.py) over real
HTTP, on SQLite and PostgreSQL: asked at most once a week, kept without the person, and shown
(on the gateway's /metrics) only for completed weeks in which a department had 5 answers or more,
and counted, never kept as a row per answer."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from gateway import schema
from gateway.accounts.staff import PHR_ADMIN
from gateway.portal.pulse import SMALLEST_GROUP, period, this_week
from tests.support.staff import console_session, person

WEEK = 7 * 24 * 3600


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def pulse_lines(url: str) -> list[str]:
    return [line for line in requests.get(url + "/metrics", timeout=30).text.splitlines()
            if line.startswith("phr_staff_pulse{")]


def counted(gw) -> dict:
    """The pulse's counters that are not 0, and each department's week's answers."""
    with gw.app.extensions["gateway"].engine.connect() as conn:
        counts = {(r.department, r.week, r.question, r.answer): r.count
                  for r in conn.execute(sa.select(schema.staff_pulse_counts)) if r.count}
        weeks = {(r.department, r.week): r.answers for r in conn.execute(sa.select(schema.staff_pulse_weeks))}
    return {"counts": counts, "weeks": weeks}


def test_a_member_of_staff_answers_once_a_week_and_the_answer_keeps_no_person(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    assert "How is your workload today?" in home.text
    sent = s.post(gw.url + "/console/pulse", timeout=30,
                  data={"csrf_token": csrf(home.text), "workload": "heavy", "system": "in-the-way"})
    assert "Thank you. Your answer is kept without your name." in sent.text
    assert "How is your workload today?" not in sent.text  # not asked again this week
    again = s.post(gw.url + "/console/pulse", timeout=30,
                   data={"csrf_token": csrf(home.text), "workload": "light", "system": "helped"})
    assert again.status_code == 200
    week = this_week()
    assert counted(gw) == {"counts": {("cardiology", week, "workload", "heavy"): 1,
                                      ("cardiology", week, "system", "in-the-way"): 1},
                           "weeks": {("cardiology", week): 1}}
    assert {c.name for c in schema.staff_pulse_counts.c} == {"department", "week", "question", "answer", "count"}


def test_not_this_week_keeps_no_answer_and_stops_asking(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    later = s.post(gw.url + "/console/pulse", timeout=30,
                   data={"csrf_token": csrf(home.text), "workload": "light", "later": "yes"})
    assert "We will not ask again this week." in later.text and "How is your workload today?" not in later.text
    # the week's rows are written as an answer writes them, every one adding 0
    assert counted(gw) == {"counts": {}, "weeks": {("cardiology", this_week()): 0}}


def test_a_forged_form_keeps_nothing(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, _home = console_session(gw.url, account.username, secret, clock["at"])
    refused = s.post(gw.url + "/console/pulse", timeout=30,
                     data={"csrf_token": "forged", "workload": "heavy"})
    assert refused.status_code == 400 and counted(gw) == {"counts": {}, "weeks": {}}
    signed_out = requests.post(gw.url + "/console/pulse", data={"workload": "heavy"}, timeout=30)
    assert signed_out.status_code == 400 and counted(gw) == {"counts": {}, "weeks": {}}


def test_a_department_is_shown_only_from_five_answers_in_one_completed_week(gw, clock):
    pulse = gw.stores.pulse
    for n in range(SMALLEST_GROUP - 1):
        assert pulse.answer(f"staff-{n}", "cardiology", this_week(), "heavy", "helped")
    for n in range(SMALLEST_GROUP + 1):
        assert pulse.answer(f"er-{n}", "emergency", this_week(), "light" if n % 2 else "heavy", None)
    assert not pulse.answer("er-0", "emergency", this_week(), "light", None)  # once a week
    assert pulse_lines(gw.url) == [] and pulse.results(period()) == []  # the current week is never shown
    clock["at"] += WEEK
    lines = pulse_lines(gw.url)
    assert not any('department="cardiology"' in line for line in lines)
    assert 'phr_staff_pulse{answer="heavy",department="emergency",question="workload"} 3.0' in lines
    assert 'phr_staff_pulse{answer="light",department="emergency",question="workload"} 3.0' in lines
    assert not any('department="emergency",question="system"' in line for line in lines)
    # four more in cardiology this week: 8 in the period, but no single week of 5
    for n in range(SMALLEST_GROUP - 1):
        assert pulse.answer(f"staff-{n}", "cardiology", this_week(), "light", None)
    clock["at"] += WEEK
    assert pulse.results(period(), "cardiology") == []
    assert pulse.answer("staff-9", "cardiology", period()[1], None, "in-the-way")  # a fifth, two weeks back
    assert pulse.results(period(), "cardiology") == [
        ("cardiology", "system", "helped", 4), ("cardiology", "system", "in-the-way", 1),
        ("cardiology", "workload", "heavy", 4)]


def test_a_colleagues_answer_this_week_moves_no_figure(gw, clock):
    pulse = gw.stores.pulse
    for n in range(SMALLEST_GROUP):
        assert pulse.answer(f"staff-{n}", "cardiology", period()[0], "heavy", None)
    before = pulse_lines(gw.url)
    assert 'phr_staff_pulse{answer="heavy",department="cardiology",question="workload"} 5.0' in before
    for n in range(SMALLEST_GROUP, 2 * SMALLEST_GROUP):
        assert pulse.answer(f"staff-{n}", "cardiology", this_week(), "light", "in-the-way")
    assert pulse_lines(gw.url) == before


def test_answers_older_than_the_period_are_not_counted(gw, clock):
    pulse = gw.stores.pulse
    for n in range(SMALLEST_GROUP):
        pulse.answer(f"staff-{n}", "cardiology", this_week(), "heavy", None)
    assert pulse.results(period()) == []
    clock["at"] += WEEK
    assert len(pulse.results(period())) == 1
    clock["at"] += WEEK * len(period())
    assert pulse.results(period()) == [] and pulse_lines(gw.url) == []


def test_on_postgresql_counters_are_written_apart_from_the_asked_row_and_all_at_once(gw, clock):
    if gw.app.extensions["gateway"].engine.dialect.name != "postgresql":
        pytest.skip("xmin (the transaction that wrote a row) is PostgreSQL's; SQLite keeps no such thing")
    pulse = gw.stores.pulse
    assert pulse.answer("staff-1", "cardiology", this_week(), "heavy", "helped")
    assert pulse.answer("staff-2", "cardiology", this_week(), "light", None)
    with gw.app.extensions["gateway"].engine.connect() as conn:
        asked = {r[0] for r in conn.execute(sa.text("SELECT xmin::text FROM staff_pulse_taken"))}
        counters = {r[0] for r in conn.execute(sa.text(
            "SELECT xmin::text FROM staff_pulse_counts UNION SELECT xmin::text FROM staff_pulse_weeks"))}
    # the last answer rewrote every counter of the week, the ones it did not count too
    assert len(asked) == 2 and len(counters) == 1 and not asked & counters


def test_on_postgresql_not_this_week_rewrites_the_same_rows_as_an_answer(gw, clock):
    if gw.app.extensions["gateway"].engine.dialect.name != "postgresql":
        pytest.skip("xmin (the transaction that wrote a row) is PostgreSQL's; SQLite keeps no such thing")
    pulse = gw.stores.pulse

    def writers() -> set[str]:
        with gw.app.extensions["gateway"].engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text(
                "SELECT xmin::text FROM staff_pulse_counts UNION ALL SELECT xmin::text FROM staff_pulse_weeks"))}
    # the week's first write makes the rows (under a savepoint of its own, so two ids)
    assert pulse.answer("staff-0", "cardiology", this_week(), "light", None)
    assert pulse.answer("staff-1", "cardiology", this_week(), "heavy", "helped")
    after_answer = writers()
    assert pulse.answer("staff-2", "cardiology", this_week(), None, None)  # "not this week"
    after_not_now = writers()
    # one transaction rewrote every counter row both times, so the writes look alike
    assert len(after_answer) == len(after_not_now) == 1 and after_answer != after_not_now
    assert counted(gw)["weeks"] == {("cardiology", this_week()): 2}


def taken(gw) -> int:
    with gw.app.extensions["gateway"].engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.staff_pulse_taken)).scalar()


def nothing_kept(gw) -> bool:
    return counted(gw) == {"counts": {}, "weeks": {}} and taken(gw) == 0


def test_a_signed_out_browser_with_a_form_token_is_sent_to_sign_in_and_keeps_nothing(gw, clock):
    s = requests.Session()
    join = s.get(gw.url + "/console/join", timeout=30)  # a console page signed out: a form token, no one
    sent = s.post(gw.url + "/console/pulse", allow_redirects=False, timeout=30,
                  data={"csrf_token": csrf(join.text), "workload": "heavy", "system": "helped"})
    assert sent.status_code == 303 and sent.headers["Location"].rstrip("/").endswith("/console")
    assert nothing_kept(gw)


def test_the_cookie_of_a_session_signed_out_answers_nothing(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    kept = requests.Session()
    kept.cookies.update(s.cookies)  # a copy of the cookie, taken while signed in
    assert s.post(gw.url + "/console/signout", data={"csrf_token": csrf(home.text)}, timeout=30).status_code == 200
    replayed = kept.post(gw.url + "/console/pulse", allow_redirects=False, timeout=30,
                         data={"csrf_token": csrf(home.text), "workload": "heavy", "system": "helped"})
    assert replayed.status_code == 303 and replayed.headers["Location"].rstrip("/").endswith("/console")
    assert nothing_kept(gw)


def test_the_cookie_of_a_disabled_members_session_answers_nothing(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    gw.staff.disable(account.id, by=PHR_ADMIN, department_active=gw.directory.active)
    sent = s.post(gw.url + "/console/pulse", allow_redirects=False, timeout=30,
                  data={"csrf_token": csrf(home.text), "workload": "heavy"})
    assert sent.status_code == 303 and nothing_kept(gw)


@pytest.mark.parametrize("form", [{"workload": "exhausted"}, {"system": "heavy"},
                                  {"workload": "heavy", "system": "<script>"}])
def test_an_answer_that_is_not_one_of_the_choices_is_refused_and_keeps_nothing(gw, clock, form):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    sent = s.post(gw.url + "/console/pulse", data={"csrf_token": csrf(home.text), **form}, timeout=30)
    assert sent.status_code == 400 and "We did not understand this answer." in sent.text
    assert nothing_kept(gw)
    assert "How is your workload today?" in s.get(gw.url + "/console/", timeout=30).text  # still asked


def test_an_oversized_pulse_is_refused_and_keeps_nothing(gw, clock):
    account, secret, _codes = person(gw.staff, gw.directory, clock)
    s, home = console_session(gw.url, account.username, secret, clock["at"])
    sent = s.post(gw.url + "/console/pulse", timeout=30,
                  data={"csrf_token": csrf(home.text), "workload": "heavy", "padding": "x" * (128 * 1024)})
    assert sent.status_code == 413 and nothing_kept(gw)


def test_first_answers_of_a_week_sent_at_once_are_all_counted(gw, clock):
    pulse, people = gw.stores.pulse, 8
    start = threading.Barrier(people)

    def answer(n: int) -> bool:
        start.wait()
        return pulse.answer(f"staff-{n}", "cardiology", this_week(), "heavy", "helped" if n % 2 else None)
    with ThreadPoolExecutor(people) as pool:
        assert all(pool.map(answer, range(people)))
    week = this_week()
    assert counted(gw) == {"counts": {("cardiology", week, "workload", "heavy"): people,
                                      ("cardiology", week, "system", "helped"): people // 2},
                           "weeks": {("cardiology", week): people}}
