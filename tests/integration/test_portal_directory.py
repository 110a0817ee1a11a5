"""The portal's sharing page offers the departments of the gateway's directory that a patient may
share with now (active, clinical or research), named in the page's language, and takes no other.

The real gateway app served over HTTP (the portal calls the public API at its own URL), with a
patient signed in through the pages; consent is a stand-in that records what reaches it."""
from __future__ import annotations

import html
import json
import re

import pytest
import requests
from werkzeug.wrappers import Response

from tests.security.gateway_server import GatewayServer, hidden_fields
from tests.support.gateway import PASSWORD, Upstream, make_patient

DEPARTMENTS = [  # (id, kind, names, disabled)
    ("physiotherapy", "clinical", {"en": "Physiotherapy", "es": "Fisioterapia"}, False),
    ("trials", "research", {"en": "Clinical trials", "es": "Ensayos clínicos"}, False),
    ("oversight", "oversight", {"en": "Oversight team", "es": "Equipo de supervisión"}, False),
    ("closed-clinic", "clinical", {"en": "Closed clinic", "es": "Clínica cerrada"}, True),
]


@pytest.fixture
def consent():
    """Consent (and records) behind the gateway: no consents yet; a new one is accepted."""
    with Upstream() as server:
        def handler(req):
            if req.path == "/patient/v1/consents" and req.method == "POST":
                return Response(json.dumps({"id": "c-1", "summary": "Shared."}), 201,
                                content_type="application/json")
            if req.path == "/patient/v1/consents":
                return Response(json.dumps({"items": [], "next": None}), 200, content_type="application/json")
            return Response(json.dumps({"name": "Ana"}), 200, content_type="application/json")
        server.handler = handler
        yield server


@pytest.fixture
def gw(tmp_path, database_url, consent):
    peers = {"records": consent.url, "consent": consent.url, "exchange": consent.url}
    with GatewayServer(tmp_path, database_url, peers=peers) as server:
        directory = server.stores.directory
        for department, kind, names, disabled in DEPARTMENTS:
            directory.register(department, names, kind, False, False, "secret")
            if disabled:
                directory.disable(department, "Closed.")
        make_patient(server.app.extensions["gateway"].engine)
        yield server


def signed_in(gw: GatewayServer) -> requests.Session:
    """A browser with the patient ana signed in to the portal."""
    s = requests.Session()
    form = s.get(gw.url + "/portal/signin", timeout=10)
    assert form.status_code == 200, form.text
    approval = s.post(gw.url + "/oauth/authorize", timeout=30,
                      data={**hidden_fields(form.text), "username": "ana", "password": PASSWORD})
    assert 'name="decision" value="allow"' in approval.text, approval.text
    done = s.post(gw.url + "/oauth/authorize", timeout=30, allow_redirects=False,
                  data={**hidden_fields(approval.text), "decision": "allow"})
    callback = s.get(done.headers["Location"], timeout=30, allow_redirects=False)
    assert callback.status_code == 303, callback.text
    return s


def offered(page: str) -> dict[str, str]:
    """The department choices of the sharing form: value -> the name shown."""
    select = re.search(r'<select id="department".*?</select>', page, re.S).group(0)
    return {value: html.unescape(name) for value, name in
            re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select)}


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("lang,names", [("en", {"trials": "Clinical trials", "physiotherapy": "Physiotherapy"}),
                                        ("es", {"trials": "Ensayos clínicos", "physiotherapy": "Fisioterapia"})])
def test_the_form_offers_the_active_departments_that_may_hold_a_consent_in_the_page_language(gw, lang, names):
    s = signed_in(gw)
    page = s.get(gw.url + "/portal/sharing", timeout=30, headers={"Accept-Language": lang})
    assert page.status_code == 200 and f'<html lang="{lang}"' in page.text
    assert offered(page.text) == names
    assert list(offered(page.text)) == sorted(names, key=lambda d: names[d])  # by name


def test_a_department_registered_after_the_page_was_made_is_offered_on_the_next_one(gw):
    s = signed_in(gw)
    gw.stores.directory.register("audiology", {"en": "Audiology", "es": "Audiología"}, "clinical", False, False, "x")
    assert "audiology" in offered(s.get(gw.url + "/portal/sharing", timeout=30).text)


@pytest.mark.parametrize("department", ["closed-clinic", "oversight", "nowhere", ""])
def test_sharing_with_a_department_not_offered_is_refused_and_never_reaches_consent(gw, consent, department):
    s = signed_in(gw)
    page = s.get(gw.url + "/portal/sharing", timeout=30)
    resp = s.post(gw.url + "/portal/sharing", timeout=30, allow_redirects=False, data={
        "csrf_token": csrf(page.text), "department": department, "groups": "tests", "purpose": "TREAT",
        "period": "1y"})
    assert resp.status_code == 400 and "Choose a department." in resp.text
    assert not [r for r in consent.requests if r["method"] == "POST"]


def test_a_department_disabled_after_the_page_was_made_is_refused(gw, consent):
    s = signed_in(gw)
    page = s.get(gw.url + "/portal/sharing", timeout=30)
    assert "physiotherapy" in offered(page.text)
    gw.stores.directory.disable("physiotherapy", "Closed.")
    resp = s.post(gw.url + "/portal/sharing", timeout=30, allow_redirects=False, data={
        "csrf_token": csrf(page.text), "department": "physiotherapy", "groups": "tests", "purpose": "TREAT",
        "period": "1y"})
    assert resp.status_code == 400 and "physiotherapy" not in offered(resp.text)
    assert not [r for r in consent.requests if r["method"] == "POST"]


def test_sharing_with_an_offered_department_asks_consent_for_it(gw, consent):
    s = signed_in(gw)
    page = s.get(gw.url + "/portal/sharing", timeout=30)
    resp = s.post(gw.url + "/portal/sharing", timeout=30, allow_redirects=False, data={
        "csrf_token": csrf(page.text), "department": "trials", "groups": "tests", "purpose": "HRESCH",
        "period": "1y"})
    assert resp.status_code == 303, resp.text
    [sent] = [r for r in consent.requests if r["method"] == "POST"]
    assert json.loads(sent["body"])["grantee"] == "trials"
