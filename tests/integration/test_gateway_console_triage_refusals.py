"""The console's quality pages refusing what they must (gateway/portal/console_reports.py), over
real HTTP, on SQLite and PostgreSQL, in front of the real exchange (tests/support/report_pages.py):
a report's page and its triage form refuse a clinician, another department's quality staff, a
signed-out browser, an ended or revoked session, an oversized or malformed form and a stale
version, and after each refusal the report the exchange keeps is as it was."""
from __future__ import annotations

import secrets

import pytest
import requests

from tests.support.gateway import hidden_fields
from tests.support.report_pages import ENDINGS, ReportPages, csrf, member


@pytest.fixture
def gw(tmp_path, database_url, clock):
    with ReportPages(tmp_path, database_url) as server:
        yield server



def filed(gw, clock, department="cardiology") -> dict:
    """A report a clinician of DEPARTMENT made through the console's form, as the exchange keeps it."""
    s, home, _account = member(gw, clock, ("clinician",), f"dr.{department}", department)
    sent = s.post(gw.url + "/console/report", timeout=30, data={
        "csrf_token": csrf(home.text), "once": secrets.token_urlsafe(24), "kind": "safety",
        "text": "Two drips were swapped before the round."})
    assert sent.status_code == 200 and "/console/report" in sent.url, sent.text
    [report] = gw.reports()
    return report


@pytest.fixture
def report(gw, clock) -> dict:
    return filed(gw, clock)


def triage_form(s, gw, report_id: str) -> dict:
    """The hidden fields of the report's triage form (its form token and the version it shows)."""
    page = s.get(f"{gw.url}/console/quality/{report_id}", timeout=30)
    assert page.status_code == 200, page.text
    return hidden_fields(page.text)


CHANGE = {"status": "looking-into-it", "note": "We are checking it with the ward."}


def test_the_quality_team_triages_the_report_the_refusals_below_start_from(gw, clock, report):
    s, _home, _account = member(gw, clock, ("quality",), "q.ok")
    form = triage_form(s, gw, report["id"])
    done = s.post(f"{gw.url}/console/quality/{report['id']}", data={**form, **CHANGE}, timeout=30)
    assert done.status_code == 200 and "We are checking it with the ward." in done.text
    [now] = gw.reports()
    assert (now["status"], now["note"], now["version"]) == ("looking-into-it", CHANGE["note"],
                                                             report["version"] + 1)


def unchanged(gw, report: dict) -> None:
    assert gw.reports() == [report]


def page_of(gw, report_id: str) -> str:
    return f"{gw.url}/console/quality/{report_id}"


@pytest.mark.parametrize(("lang", "refusal"), [("en", "Only the quality team can use this page."),
                                               ("es", "Solo el equipo de calidad puede usar esta página.")])
def test_a_clinician_may_not_open_or_triage_a_report(gw, clock, report, lang, refusal):
    s, home, _account = member(gw, clock, ("clinician",), "dr.triage", lang=lang)
    opened = s.get(page_of(gw, report["id"]), timeout=30)
    sent = s.post(page_of(gw, report["id"]), timeout=30,
                  data={"csrf_token": csrf(home.text), "version": str(report["version"]), **CHANGE})
    for refused in (opened, sent):
        assert refused.status_code == 403 and refusal in refused.text and f'lang="{lang}"' in refused.text
        assert report["text"] not in refused.text
    unchanged(gw, report)


@pytest.mark.parametrize(("lang", "refusal"), [("en", "Your department has no report with this id."),
                                               ("es", "Su departamento no tiene ningún reporte con este número.")])
def test_another_departments_quality_team_gets_a_404_page_and_changes_nothing(gw, clock, report, lang, refusal):
    s, home, _account = member(gw, clock, ("quality",), "q.emergency", "emergency", lang)
    opened = s.get(page_of(gw, report["id"]), timeout=30)
    sent = s.post(page_of(gw, report["id"]), timeout=30,
                  data={"csrf_token": csrf(home.text), "version": str(report["version"]), **CHANGE})
    for refused in (opened, sent):
        assert refused.status_code == 404 and refusal in refused.text and f'lang="{lang}"' in refused.text
        assert report["text"] not in refused.text and report["reference"] not in refused.text
    unchanged(gw, report)


def test_a_signed_out_browser_is_sent_to_sign_in_and_changes_nothing(gw, clock, report):
    s = requests.Session()
    join = s.get(gw.url + "/console/join", timeout=30)  # a console page signed out: a form token, no one
    opened = s.get(page_of(gw, report["id"]), allow_redirects=False, timeout=30)
    sent = s.post(page_of(gw, report["id"]), allow_redirects=False, timeout=30,
                  data={"csrf_token": csrf(join.text), "version": str(report["version"]), **CHANGE})
    for refused in (opened, sent):
        assert refused.status_code == 303 and refused.headers["Location"].rstrip("/").endswith("/console")
    unchanged(gw, report)




@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_cookie_of_an_ended_session_opens_and_changes_nothing(gw, clock, report, ending, lang):
    s, home, account = member(gw, clock, ("quality",), "q.ended", lang=lang)
    form = triage_form(s, gw, report["id"])
    kept = requests.Session()
    kept.headers["Accept-Language"] = lang
    kept.cookies.update(s.cookies)  # a copy of the cookie, taken while signed in
    ENDINGS[ending](gw, s, home, account)
    opened = kept.get(page_of(gw, report["id"]), allow_redirects=False, timeout=30)
    sent = kept.post(page_of(gw, report["id"]), data={**form, **CHANGE}, allow_redirects=False, timeout=30)
    for refused in (opened, sent):
        assert refused.status_code == 303 and refused.headers["Location"].rstrip("/").endswith("/console")
        assert report["text"] not in refused.text
    unchanged(gw, report)
    told = kept.get(gw.url + "/console/", timeout=30)
    assert {"en": "You were signed out. Sign in again to go on.",
            "es": "Su sesión se cerró. Vuelva a entrar para seguir."}[lang] in told.text


TOO_LARGE = {"en": "What you sent is too large.", "es": "Lo que envió es demasiado grande."}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_oversized_triage_form_is_refused_with_a_page_and_changes_nothing(gw, clock, report, lang):
    s, _home, _account = member(gw, clock, ("quality",), "q.big", lang=lang)
    form = triage_form(s, gw, report["id"])
    sent = s.post(page_of(gw, report["id"]), data={**form, **CHANGE, "note": "x" * (128 * 1024)}, timeout=30)
    assert sent.status_code == 413 and sent.headers["Content-Type"].startswith("text/html")
    assert TOO_LARGE[lang] in sent.text and f'lang="{lang}"' in sent.text
    unchanged(gw, report)


CHANGED = {"en": "Someone changed this report after you opened it. This is the report now.",
           "es": "Alguien cambió este reporte después de que usted lo abrió. Así está ahora."}
NO_CHANGE = {"en": "Change the status, write a note, assign it or add a link.",
             "es": "Cambie el estado, escriba una nota, asígnelo o añada un enlace."}


@pytest.mark.parametrize(("lang", "change", "status", "said"), [
    ("en", {**CHANGE, "version": "one"}, 412, CHANGED),
    ("en", {**CHANGE, "version": ""}, 412, CHANGED),
    ("en", {**CHANGE, "version": "-1"}, 412, CHANGED),
    ("es", {**CHANGE, "version": "1 "}, 412, CHANGED),
    ("en", {"status": "received"}, 400, NO_CHANGE),  # the status it has, and nothing else
    ("en", {"status": "received", "note": "   "}, 400, NO_CHANGE),
    ("en", {"status": "thrown-away"}, 400, NO_CHANGE),  # not a status
    ("es", {"status": "<script>"}, 400, NO_CHANGE),
], ids=["version-words", "version-empty", "version-negative", "version-space-es", "no-change", "blank-note",
        "unknown-status", "unknown-status-es"])
def test_a_malformed_triage_form_is_refused_with_the_report_shown_again_and_changes_nothing(
        gw, clock, report, lang, change, status, said):
    s, _home, _account = member(gw, clock, ("quality",), "q.malformed", lang=lang)
    form = triage_form(s, gw, report["id"])
    sent = s.post(page_of(gw, report["id"]), data={**form, **change}, timeout=30)
    assert sent.status_code == status and said[lang] in sent.text and f'lang="{lang}"' in sent.text
    assert report["reference"] in sent.text and 'name="version" value="1"' in sent.text
    assert "<script>" not in sent.text.split("<main", 1)[1]
    unchanged(gw, report)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_stale_version_is_refused_with_the_report_as_a_colleague_left_it(gw, clock, report, lang):
    me, _home, _account = member(gw, clock, ("quality",), "q.slow", lang=lang)
    colleague, _home, _account = member(gw, clock, ("quality",), "q.quick")
    mine = triage_form(me, gw, report["id"])
    theirs = triage_form(colleague, gw, report["id"])
    done = colleague.post(page_of(gw, report["id"]), timeout=30,
                          data={**theirs, "status": "looking-into-it", "note": "Asked the ward."})
    assert done.status_code == 200
    [after_colleague] = gw.reports()
    stale = me.post(page_of(gw, report["id"]), data={**mine, "status": "closed", "note": "Nothing to do."},
                    timeout=30)
    assert stale.status_code == 412 and CHANGED[lang] in stale.text and f'lang="{lang}"' in stale.text
    assert "Asked the ward." in stale.text and 'name="version" value="2"' in stale.text  # the report now
    assert "Nothing to do." not in stale.text  # the change is made again, on the report as it is
    assert gw.reports() == [after_colleague]


@pytest.mark.parametrize("report_id", ["%2E", "%2E%2E", "..%2F..%2Fstaff", "not*an*id", "r" * 65, "%20"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_path_that_is_no_report_id_is_a_404_and_changes_nothing(gw, clock, report, report_id, method):
    s, home, _account = member(gw, clock, ("quality",), "q.paths")
    refused = s.request(method, f"{gw.url}/console/quality/{report_id}", timeout=30,
                        data={"csrf_token": csrf(home.text), "version": "1", **CHANGE} if method == "POST" else None)
    assert refused.status_code == 404
    unchanged(gw, report)
