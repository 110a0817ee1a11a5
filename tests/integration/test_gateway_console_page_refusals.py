"""The console's report form, quality queue, hard words and measures pages refusing what they must
(gateway/portal/console_reports.py, console_measures.py), over real HTTP, on SQLite and
PostgreSQL, in front of the real exchange (tests/support/report_pages.py): a signed-out browser
goes to sign in; the cookie of a session signed out, revoked or of a disabled member opens
nothing and sends nothing; a report of a kind staff do not report is refused with the form; and
the measures page shows the staff pulse of the person's own department only."""
from __future__ import annotations

import secrets

import pytest
import requests
import sqlalchemy as sa

from gateway import schema
from gateway.portal.pulse import SMALLEST_GROUP, period
from tests.integration.test_gateway_console_measures import charts
from tests.support.report_pages import ENDINGS, ReportPages, csrf, member

SIGNED_OUT = {"en": "You were signed out. Sign in again to go on.",
              "es": "Su sesión se cerró. Vuelva a entrar para seguir."}
PAGES = ("/console/quality", "/console/quality/hard-words", "/console/measures", "/console/report")


@pytest.fixture
def gw(tmp_path, database_url, clock):
    with ReportPages(tmp_path, database_url) as server:
        yield server



def claimed(gw) -> int:
    """The console forms' one-time tokens the gateway keeps (a report's first send claims one)."""
    with gw.app.extensions["gateway"].engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.form_sends)).scalar()


def report_form(page: str, **fields) -> dict:
    return {"csrf_token": csrf(page), "once": secrets.token_urlsafe(24), "kind": "safety",
            "text": "A near miss with two drips.", **fields}


def to_sign_in(answer) -> bool:
    return answer.status_code == 303 and answer.headers["Location"].rstrip("/").endswith("/console")


@pytest.mark.parametrize("path", PAGES)
def test_a_signed_out_browser_is_sent_to_sign_in(gw, clock, path):
    assert to_sign_in(requests.get(gw.url + path, allow_redirects=False, timeout=30))


def test_a_signed_out_browser_sends_no_report(gw, clock):
    s = requests.Session()
    join = s.get(gw.url + "/console/join", timeout=30)  # a console page signed out: a form token, no one
    assert to_sign_in(s.post(gw.url + "/console/report", data=report_form(join.text), allow_redirects=False,
                             timeout=30))
    assert gw.reports() == [] and claimed(gw) == 0




def ended(gw, clock, ending: str, lang: str, roles=("quality", "privacy-officer")):
    """A copy of a session's cookie, taken while signed in, once ENDING ended the session: (the
    copy, the home page it was signed in with)."""
    s, home, account = member(gw, clock, roles, f"q.{ending}", lang=lang)
    for path in PAGES:  # all open while the session stands
        assert s.get(gw.url + path, timeout=30).status_code == 200, path
    kept = requests.Session()
    kept.headers["Accept-Language"] = lang
    kept.cookies.update(s.cookies)
    ENDINGS[ending](gw, s, home, account)
    return kept, home


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_cookie_of_an_ended_session_opens_no_console_page(gw, clock, ending, lang):
    kept, _home = ended(gw, clock, ending, lang)
    for path in PAGES:
        refused = kept.get(gw.url + path, allow_redirects=False, timeout=30)
        assert to_sign_in(refused), (path, refused.status_code)
        assert SIGNED_OUT[lang] in kept.get(gw.url + "/console/", timeout=30).text


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("anonymous", [False, True])
def test_the_cookie_of_an_ended_session_sends_no_report(gw, clock, ending, anonymous):
    kept, home = ended(gw, clock, ending, "en")
    form = report_form(home.text, **({"anonymous": "yes"} if anonymous else {}))
    assert to_sign_in(kept.post(gw.url + "/console/report", data=form, allow_redirects=False, timeout=30))
    assert gw.reports() == [] and claimed(gw) == 0  # and the form may be sent again once signed in


CHOOSE_A_KIND = {"en": "Choose what kind of problem it is.", "es": "Elija qué tipo de problema es."}


@pytest.mark.parametrize(("lang", "kind"), [("en", "wrong-information"), ("en", "wrong-access"),
                                            ("en", "Safety"), ("en", ""), ("es", "bogus"), ("es", "safety ")])
def test_a_report_of_a_kind_staff_do_not_report_is_refused_with_the_form(gw, clock, lang, kind):
    s, home, _account = member(gw, clock, ("clinician",), "dr.kinds", lang=lang)
    sent = s.post(gw.url + "/console/report", data=report_form(home.text, kind=kind), timeout=30)
    assert sent.status_code == 400 and CHOOSE_A_KIND[lang] in sent.text and f'lang="{lang}"' in sent.text
    assert "A near miss with two drips." in sent.text  # what they wrote is kept in the form
    assert gw.reports() == [] and claimed(gw) == 0


def pulse_rows(page: str) -> list[tuple[str, str]]:
    return charts(page)["phr-staff-pulse"][1]


@pytest.mark.parametrize(("lang", "own", "other"), [("en", "Cardiology", "Emergency"),
                                                    ("es", "Cardiología", "Urgencias")])
def test_the_measures_page_shows_the_staff_pulse_of_the_persons_own_department_only(gw, clock, lang, own, other):
    last_week = period()[0]  # the current week is never shown
    for n in range(SMALLEST_GROUP):
        gw.stores.pulse.answer(f"c-{n}", "cardiology", last_week, "heavy", None)
        gw.stores.pulse.answer(f"e-{n}", "emergency", last_week, "light", None)
    s, _home, _account = member(gw, clock, ("quality",), "q.pulse", lang=lang)
    page = s.get(gw.url + "/console/measures", timeout=30)
    assert page.status_code == 200, page.text
    rows = pulse_rows(page.text)
    assert len(rows) == 1 and rows[0][0].startswith(own + ", ") and rows[0][1] == "5"
    assert not [label for _bars, found in charts(page.text).values() for label, _n in found
                if label.startswith(other)]  # in no chart or table of the page
    # the other department's own quality staff see theirs, and not cardiology's
    theirs, _home, _account = member(gw, clock, ("privacy-officer",), "po.pulse", "emergency", lang)
    rows = pulse_rows(theirs.get(gw.url + "/console/measures", timeout=30).text)
    assert len(rows) == 1 and rows[0][0].startswith(other + ", ") and rows[0][1] == "5"
