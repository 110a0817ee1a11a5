"""The portal's report pages refusing what they must (gateway/portal/reports.py), over real HTTP,
on SQLite and PostgreSQL, in front of the real exchange (tests/support/report_pages.py): a
signed-out browser and the cookie of an ended session go to sign in; another patient's report is
a 404 page; a forged or missing form token, an oversized form, a link naming nothing a patient
reports about and text that is too long are refused; and none of them leaves a report behind."""
from __future__ import annotations

import pytest
import requests

from tests.support.gateway import PASSWORD, make_patient
from tests.support.portal import signed_in
from tests.support.report_pages import ReportPages, csrf

#: Primary care keeps both patients' records, so their reports reach its quality team.
PATIENTS = {"ana": "p-1", "bea": "p-2"}
TEXT = "The page about my results did not load."
SIGNED_OUT = {"en": "You were signed out. Sign in again to go on.",
              "es": "Su sesión se cerró. Vuelva a entrar para seguir."}
PAGES = ("/portal/reports/new", "/portal/reports")


@pytest.fixture
def gw(tmp_path, database_url, clock):
    with ReportPages(tmp_path, database_url) as server:
        engine = server.app.extensions["gateway"].engine
        for username, patient in PATIENTS.items():
            make_patient(engine, username=username, patient=patient)
            server.custodian(patient, "primary-care")
        yield server


def patient(gw, username="ana", lang="en") -> requests.Session:
    return signed_in(gw.url, username, PASSWORD, lang)


def the_form(s, gw, query: str = "") -> dict:
    page = s.get(f"{gw.url}/portal/reports/new{query}", timeout=30)
    assert page.status_code == 200, page.text
    return {"csrf_token": csrf(page.text), "page": "/portal/records", "kind": "system-problem", "text": TEXT}


def filed(gw, username: str) -> dict:
    """A report USERNAME sent through the form, as the exchange keeps it."""
    s = patient(gw, username)
    sent = s.post(gw.url + "/portal/reports/new", data=the_form(s, gw), timeout=30)
    assert sent.status_code == 200 and "/portal/reports/" in sent.url, sent.text
    return gw.reports()[-1]


def to_sign_in(answer) -> bool:
    """A 303 to the portal's home page, with its way in."""
    return answer.status_code == 303 and answer.headers["Location"] in ("/", answer.url.split("/portal")[0] + "/")


def test_a_patient_reports_through_the_form_the_refusals_below_start_from(gw, clock):
    report = filed(gw, "ana")
    assert (report["patient"], report["kind"], report["text"], report["department"]) == (
        "p-1", "system-problem", TEXT, "primary-care")


def test_a_signed_out_browser_is_sent_to_sign_in_and_sends_nothing(gw, clock):
    report = filed(gw, "bea")
    s = requests.Session()
    home = s.get(gw.url + "/", timeout=30)  # a portal page signed out: a form token, no one
    for path in (*PAGES, f"/portal/reports/{report['id']}"):
        assert to_sign_in(s.get(gw.url + path, allow_redirects=False, timeout=30)), path
    sent = s.post(gw.url + "/portal/reports/new", allow_redirects=False, timeout=30,
                  data={"csrf_token": csrf(home.text), "kind": "system-problem", "text": TEXT})
    assert to_sign_in(sent) and gw.reports() == [report]


def _signed_out(gw, s):
    home = s.get(gw.url + "/portal/reports", timeout=30)
    assert s.post(gw.url + "/portal/signout", data={"csrf_token": csrf(home.text)}, timeout=30).status_code == 200


def _revoked(gw, s):
    """Every token of the sign-in revoked, the refresh token too."""
    from gateway.portal.client import claims_of
    cookie = s.cookies.get(gw.app.config["SESSION_COOKIE_NAME"])
    kept = gw.app.session_interface.get_signing_serializer(gw.app).loads(cookie)
    gw.stores.tokens.revoke([claims_of(kept["tok"]["access"])["jti"]], refresh=True)


ENDINGS = {"signed-out": _signed_out, "revoked": _revoked}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_cookie_of_an_ended_session_opens_nothing_and_sends_nothing(gw, clock, ending, lang):
    s = patient(gw, lang=lang)
    report = filed(gw, "ana")
    form = the_form(s, gw)
    for path in (*PAGES, f"/portal/reports/{report['id']}"):  # all open while the session stands
        assert s.get(gw.url + path, timeout=30).status_code == 200, path
    kept = requests.Session()
    kept.headers["Accept-Language"] = lang
    kept.cookies.update(s.cookies)  # a copy of the cookie, taken while signed in
    ENDINGS[ending](gw, s)
    for path in ("/portal/reports", f"/portal/reports/{report['id']}", "/portal/reports/new"):
        refused = kept.get(gw.url + path, allow_redirects=False, timeout=30)
        assert to_sign_in(refused) and TEXT not in refused.text, path
    sent = kept.post(gw.url + "/portal/reports/new", data=form, allow_redirects=False, timeout=30)
    assert to_sign_in(sent) and gw.reports() == [report]
    assert SIGNED_OUT[lang] in kept.get(gw.url + "/", timeout=30).text


NO_REPORT = {"en": "We cannot find this report.", "es": "No encontramos este reporte."}
NO_ITEM = {"en": "We cannot find this item in your record.", "es": "No encontramos este dato en su expediente."}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_another_patients_report_is_a_404_page(gw, clock, lang):
    theirs = filed(gw, "bea")
    s = patient(gw, "ana", lang)
    refused = s.get(f"{gw.url}/portal/reports/{theirs['id']}", timeout=30)
    assert refused.status_code == 404 and NO_REPORT[lang] in refused.text and f'lang="{lang}"' in refused.text
    assert TEXT not in refused.text and theirs["reference"] not in refused.text
    assert theirs["reference"] not in s.get(gw.url + "/portal/reports", timeout=30).text
    assert gw.reports() == [theirs]


@pytest.mark.parametrize("token", ["forged", "", None])
def test_a_form_with_a_forged_or_missing_token_is_refused_and_sends_nothing(gw, clock, token):
    s = patient(gw, lang="es")
    form = {**the_form(s, gw), "csrf_token": token}
    sent = s.post(gw.url + "/portal/reports/new", data={k: v for k, v in form.items() if v is not None},
                  timeout=30)
    assert sent.status_code == 400 and "Este formulario es muy viejo." in sent.text and 'lang="es"' in sent.text
    assert gw.reports() == []


TOO_LARGE = {"en": "What you sent is too large.", "es": "Lo que envió es demasiado grande."}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_an_oversized_form_is_refused_with_a_page_and_sends_nothing(gw, clock, lang):
    s = patient(gw, lang=lang)
    sent = s.post(gw.url + "/portal/reports/new", data={**the_form(s, gw), "text": "x" * (128 * 1024)}, timeout=30)
    assert sent.status_code == 413 and sent.headers["Content-Type"].startswith("text/html")
    assert TOO_LARGE[lang] in sent.text and f'lang="{lang}"' in sent.text
    assert gw.reports() == []


#: What a link may name that no patient reports about: a record item whose type or id is not one,
#: a disclosure that is not a number, a kind only staff report, or a kind that needs what it lacks.
NOTHING_TO_REPORT = [{"record": "../x"}, {"record": "Staff/x"}, {"record": "observation/x"},
                     {"record": "Observation/.."}, {"record": "Observation/../../staff"}, {"record": "Observation/"},
                     {"record": "x"}, {"disclosure": "abc"}, {"disclosure": "-1"}, {"disclosure": "1" * 13},
                     {"kind": "safety"}, {"kind": "wrong-access"},
                     {"kind": "wrong-information"}, {"kind": "Safety"}]


@pytest.mark.parametrize("query", NOTHING_TO_REPORT, ids=lambda q: "-".join(f"{k}={v}" for k, v in q.items()))
def test_a_link_naming_nothing_a_patient_reports_about_is_a_404_page_and_sends_nothing(gw, clock, query):
    s = patient(gw)
    form = the_form(s, gw)
    opened = s.get(gw.url + "/portal/reports/new", params=query, timeout=30)
    sent = s.post(gw.url + "/portal/reports/new", data={**form, "kind": "", **query}, timeout=30)
    for refused in (opened, sent):
        assert refused.status_code == 404 and NO_ITEM["en"] in refused.text
    assert gw.reports() == []


def test_a_link_naming_nothing_is_a_404_page_in_spanish(gw, clock):
    s = patient(gw, lang="es")
    refused = s.get(gw.url + "/portal/reports/new", params={"kind": "safety"}, timeout=30)
    assert refused.status_code == 404 and NO_ITEM["es"] in refused.text and 'lang="es"' in refused.text


@pytest.mark.parametrize(("lang", "field", "kind", "most"), [
    ("en", "text", "system-problem", 2000), ("es", "text", "system-problem", 2000),
    ("en", "words", "hard-to-understand", 500), ("es", "words", "hard-to-understand", 500)])
def test_text_over_its_length_is_refused_next_to_its_field_with_the_form_shown_again(gw, clock, lang, field, kind,
                                                                                      most):
    s = patient(gw, lang=lang)
    form = {**the_form(s, gw), "kind": kind, "words": "custodian", field: "y" * (most + 1)}
    sent = s.post(gw.url + "/portal/reports/new", data=form, timeout=30)
    said = {"en": f"Use {most} characters or fewer.", "es": f"Use {most} caracteres o menos."}[lang]
    assert sent.status_code == 400 and said in sent.text and f'lang="{lang}"' in sent.text
    assert 'action="/portal/reports/new"' in sent.text and f'id="{field}-error"' in sent.text
    assert gw.reports() == []
    # at its length the same form goes on
    assert s.post(gw.url + "/portal/reports/new", data={**form, field: "y" * most}, timeout=30).status_code == 200
    assert len(gw.reports()) == 1


@pytest.mark.parametrize("report_id", ["%2E", "%2E%2E", "not*an*id", "r" * 65])
def test_a_path_that_is_no_report_id_is_a_404_page(gw, clock, report_id):
    s = patient(gw, lang="es")
    refused = s.get(f"{gw.url}/portal/reports/{report_id}", timeout=30)
    assert refused.status_code == 404 and 'lang="es"' in refused.text and "No encontr" in refused.text
