"""The console's measures dashboard (gateway/portal/console_measures.py) over real HTTP, on SQLite
and PostgreSQL: quality staff and privacy officers see the charts with the same numbers in their
tables, comments only for quality, "not measured here" where a process gives nothing, and a
clinician is refused."""
from __future__ import annotations

import datetime as dt
import html
import re


from tests.support.staff import console_session, person



def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def charts(page: str) -> dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """Each chart's (bars: [(label, shown value)], table rows: [(label, number)]) by its id."""
    found = {}
    for cid, body in re.findall(r'<section class="chart" aria-labelledby="([\w-]+)-title">(.*?)</section>', page, re.S):
        bars = [(text(label), text(value)) for label, value in re.findall(
            r'<text[^>]*class="label">(.*?)</text>.*?<text[^>]*class="value[^"]*">(.*?)</text>', body, re.S)]
        rows = [(text(th), text(td)) for th, td in re.findall(
            r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', body, re.S)]
        found[cid] = (bars, rows)
    return found


def signed_in(gw, clock, roles, username, lang="en"):
    account, secret, _codes = person(gw.staff, gw.directory, clock, username=username, roles=roles)
    s, _home = console_session(gw.url, account.username, secret, clock["at"], lang)
    return s


def test_quality_sees_every_chart_with_its_table_and_the_comments(gw, clock):
    gw.stores.page_answers.add("records", "es", "no", "No entiendo la palabra", dt.date.today())
    gw.stores.page_answers.add("records", "es", "yes", None, dt.date.today())
    s = signed_in(gw, clock, ("quality",), "q.one")
    page = s.get(gw.url + "/console/measures", timeout=30)
    assert page.status_code == 200, page.text
    found = charts(page.text)
    assert found["phr-page-answers"][1] == [("records, es, no", "1"), ("records, es, yes", "1")]
    for cid, (bars, rows) in found.items():
        assert bars == rows, cid  # the table holds exactly the chart's numbers
    assert ("not measured here", "not measured here") in found["phr-correction-requests-open"][1]
    assert any(label.startswith("records: ") and value == "not measured here"
               for label, value in found["phr-outbox-pending-events"][1])
    assert "No entiendo la palabra" in page.text
    assert 'role="img"' in page.text and "How people fare" in page.text and "How the system runs" in page.text


def test_a_privacy_officer_sees_the_charts_but_no_comments_and_a_clinician_is_refused(gw, clock):
    gw.stores.page_answers.add("records", "es", "no", "No entiendo la palabra", dt.date.today())
    officer = signed_in(gw, clock, ("privacy-officer",), "po.one", "es")
    page = officer.get(gw.url + "/console/measures", timeout=30)
    assert page.status_code == 200 and "Cómo les va a las personas" in page.text
    assert "No entiendo la palabra" not in page.text
    clinician = signed_in(gw, clock, ("clinician",), "dr.one")
    refused = clinician.get(gw.url + "/console/measures", timeout=30)
    assert refused.status_code == 403 and "Only quality staff or a privacy officer" in refused.text
