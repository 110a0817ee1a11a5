"""Asking "Was this page easy to understand?" on the portal's pages (gateway/portal/page_answers.py)
over real HTTP, on SQLite and PostgreSQL: an answer is counted under its page's route name and
language on the gateway's /metrics, keeps no person, a send that is not a proper answer changes
nothing and blocks nothing, and answers sent over and over are thanked but not counted."""
from __future__ import annotations

import re

import pytest
import requests
import sqlalchemy as sa

from gateway import schema
from gateway.portal.page_answers import PER_ADDRESS_AN_HOUR, PER_PAGE_A_DAY
from tests.security.gateway_server import GatewayServer


@pytest.fixture
def gw(tmp_path, database_url):
    with GatewayServer(tmp_path, database_url) as server:
        yield server


def the_form(page: str) -> dict:
    form = re.search(r'<form class="page-answer".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def counted(url: str, page: str, language: str, answer: str) -> float | None:
    metrics = requests.get(url + "/metrics", timeout=30).text
    found = re.search(rf'^phr_page_answers{{answer="{answer}",language="{language}",page="{page}"}} (\S+)$',
                      metrics, re.M)
    return float(found.group(1)) if found else None


def rows(gw) -> list[dict]:
    with gw.app.extensions["gateway"].engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.page_answers)).mappings()]


def test_a_no_on_the_spanish_activation_page_is_counted_under_that_page_and_language_and_keeps_no_person(gw):
    s = requests.Session()
    page = s.get(gw.url + "/portal/language?lang=es&next=/portal/activate", timeout=30)
    assert "¿Fue fácil entender esta página?" in page.text
    hidden = the_form(page.text)
    assert hidden["page"] == "activate" and hidden["lang"] == "es" and hidden["next"] == "/portal/activate"
    sent = s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": "no", "comment": "x" * 900},
                  allow_redirects=False, timeout=30)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/portal/activate")
    back = s.get(gw.url + "/portal/activate", timeout=30)
    assert "Gracias por su respuesta." in back.text
    assert counted(gw.url, "activate", "es", "no") == 1.0
    assert counted(gw.url, "activate", "es", "yes") is None
    [row] = rows(gw)
    assert set(row) == {"id", "page", "language", "answer", "comment", "day"}  # nobody's id or address
    assert len(row["comment"]) == 300 and row["answer"] == "no"


def test_answers_add_up_per_page_language_and_answer(gw):
    s = requests.Session()
    hidden = the_form(s.get(gw.url + "/", timeout=30).text)
    assert hidden["page"] == "home" and hidden["lang"] == "en"
    for answer in ("yes", "yes", "no"):
        s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": answer}, timeout=30)
    assert counted(gw.url, "home", "en", "yes") == 2.0 and counted(gw.url, "home", "en", "no") == 1.0
    assert [r["comment"] for r in rows(gw)] == [None, None, None]


@pytest.mark.parametrize("change", [
    {"csrf_token": "forged"}, {"page": "records/p-1"}, {"page": "/portal/records"},
    {"answer": "maybe"}, {"answer": ""}, {"lang": "fr", "answer": "nope"}])
def test_a_send_that_is_not_a_proper_answer_stores_nothing(gw, change):
    s = requests.Session()
    hidden = the_form(s.get(gw.url + "/", timeout=30).text)
    sent = s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": "yes", **change},
                  allow_redirects=False, timeout=30)
    assert sent.status_code in (303, 400)
    assert rows(gw) == []


def test_an_answer_never_sends_the_visitor_off_the_site(gw):
    s = requests.Session()
    hidden = the_form(s.get(gw.url + "/", timeout=30).text)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        sent = s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": "yes", "next": target},
                      allow_redirects=False, timeout=30)
        assert sent.status_code == 303 and sent.headers["Location"] in ("/", gw.url + "/")


def test_an_unknown_language_is_counted_under_the_pages_negotiated_one(gw):
    s = requests.Session()
    hidden = the_form(s.get(gw.url + "/", timeout=30).text)
    s.post(gw.url + "/portal/page-answer", data={**hidden, "lang": "fr", "answer": "yes"}, timeout=30)
    assert counted(gw.url, "home", "en", "yes") == 1.0


def test_a_session_stuffing_one_pages_answers_is_thanked_but_counted_only_a_few_times_a_day(gw):
    s = requests.Session()
    home = the_form(s.get(gw.url + "/", timeout=30).text)
    for _ in range(PER_PAGE_A_DAY + 4):
        sent = s.post(gw.url + "/portal/page-answer", data={**home, "answer": "no"}, timeout=30)
        assert sent.status_code == 200 and "Thank you for your answer." in sent.text  # never refused
    assert counted(gw.url, "home", "en", "no") == PER_PAGE_A_DAY and len(rows(gw)) == PER_PAGE_A_DAY
    # another page of the same session, and the same page in another session, still count
    activate = the_form(s.get(gw.url + "/portal/activate", timeout=30).text)
    s.post(gw.url + "/portal/page-answer", data={**activate, "answer": "yes"}, timeout=30)
    other = requests.Session()
    other.post(gw.url + "/portal/page-answer", data={**the_form(other.get(gw.url + "/", timeout=30).text),
                                                     "answer": "no"}, timeout=30)
    assert counted(gw.url, "activate", "en", "yes") == 1.0 and counted(gw.url, "home", "en", "no") == 4.0


def test_one_address_is_counted_only_so_many_times_an_hour(gw):
    by_address = gw.app.extensions["page_answer_limits"][1]
    for _ in range(PER_ADDRESS_AN_HOUR - 1):  # the address's budget all but spent, as by many sessions
        assert by_address.take("127.0.0.1") == 0
    for _ in range(2):
        s = requests.Session()
        sent = s.post(gw.url + "/portal/page-answer", timeout=30,
                      data={**the_form(s.get(gw.url + "/", timeout=30).text), "answer": "yes"})
        assert "Thank you for your answer." in sent.text
    assert counted(gw.url, "home", "en", "yes") == 1.0


@pytest.mark.parametrize(("lang", "said"), [("en", "What you sent is too large."),
                                            ("es", "Lo que envió es demasiado grande.")])
def test_an_oversized_answer_is_refused_with_a_page_in_the_visitors_language_and_counts_nothing(gw, lang, said):
    s = requests.Session()
    s.headers["Accept-Language"] = lang
    hidden = the_form(s.get(gw.url + "/", timeout=30).text)
    sent = s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": "no", "comment": "x" * (128 * 1024)},
                  allow_redirects=False, timeout=30)
    assert sent.status_code == 413 and sent.headers["Content-Type"].startswith("text/html")
    assert said in sent.text and f'lang="{lang}"' in sent.text
    assert rows(gw) == [] and counted(gw.url, "home", hidden["lang"], "no") is None
    # the same answer at its size is counted
    s.post(gw.url + "/portal/page-answer", data={**hidden, "answer": "no", "comment": "x" * 900}, timeout=30)
    assert counted(gw.url, "home", hidden["lang"], "no") == 1.0
