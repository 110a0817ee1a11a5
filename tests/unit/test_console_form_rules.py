"""The staff console's and the portal's form rules, with the API they call scripted: what is sent
to it, and what the page does with each answer. The real API behind them is tested in its own
tiers, and the pages end to end in tests/browser; here each rule is pinned where it is made.

- an id from the page's URL reaches an API path only when it is an id ('.' and '..' never do);
- a form that makes something makes it once, however often it is sent;
- an amend names the version the officer corrected (If-Match), and a 412 starts them again;
- an answer the API refuses as already given (409) is said above the item, not on a hidden form;
- a request that no longer needs the patient to share says so, instead of an error on no form;
- the portal's correction pages need the right to read the record as well as to ask.
"""
from __future__ import annotations

import json
import time

import pytest

from gateway.app import create_app
from gateway.portal.client import ApiError, path_id

CSRF = "c" * 43
ONCE = "o" * 32
AMEND = "/staff/v1/corrections/t1/accept"


class ScriptedApi:
    """Stands in for the API client (gateway/portal/client.Portal): records each call and
    answers from ANSWERS, keyed (method, path); an answer may be a dict, an exception to raise (ApiError, SignedOut), or
    a function of the call's keywords. What is not scripted is the API's 404."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.answers: dict[tuple[str, str], object] = {}

    def call(self, method: str, path: str, access_token: str, lang: str, **kw) -> dict:
        self.calls.append((method, path, kw))
        answer = self.answers.get((method, path), ApiError(404, {"title": "Not Found"}))
        if isinstance(answer, Exception):
            raise answer
        return answer(kw) if callable(answer) else answer

    def sent(self, method: str) -> list[str]:
        return [path for m, path, _kw in self.calls if m == method]

    def refresh(self, _token):
        raise AssertionError("the session's token is fresh")

    def revoke(self, _token):
        return None


@pytest.fixture
def gateway(tmp_path):
    base = "http://gateway.test"
    app = create_app({"TESTING": True, "var_dir": tmp_path, "database_url": f"sqlite:///{tmp_path}/gw.db",
                      "issuer": base, "audience": base, "jwks_url": base + "/oauth/jwks",
                      "peers": {name: "http://127.0.0.1:9" for name in ("gateway", "records", "consent", "exchange")},
                      "REVOCATION_REFRESH_SECONDS": 0.0, "PORTAL_API_URL": base})
    app.extensions["console"] = app.extensions["portal"] = ScriptedApi()
    yield app
    app.extensions["gateway"].engine.dispose()


def staff_client(app, roles, scope="", sub="staff-1"):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = CSRF
        s["staff"] = {"access": "a", "refresh": "r", "exp": time.time() + 3600, "scope": scope, "sub": sub,
                      "dept": "primary-care", "roles": list(roles), "name": "Dr. Test"}
    return client


def patient_client(app, scope):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = CSRF
        s["tok"] = {"access": "a", "refresh": "r", "exp": time.time() + 3600, "scope": scope,
                    "patient": "p-1", "act": True}
    return client


def flashes(client) -> list[str]:
    with client.session_transaction() as s:
        return [message for _category, message in s.get("_flashes", [])]


def test_only_an_id_may_go_into_an_api_path():
    assert path_id("3f2c-9a1e") and path_id("Observation.1") and path_id("a" * 64)
    for bad in (".", "..", "", "a/b", "a b", "a?b=1", "%2e%2e", "a" * 65):
        assert not path_id(bad), bad


@pytest.mark.parametrize("roles,path", [
    (("clinician",), "/console/requests/{id}"),
    (("clinician",), "/console/sharing-requests/{id}"),
    (("privacy-officer",), "/console/reviews/{id}"),
    (("records-officer",), "/console/corrections/{id}"),
])
@pytest.mark.parametrize("bad", [".", ".."])
def test_a_dot_id_in_a_console_url_is_a_404_page_and_never_reaches_the_api(gateway, roles, path, bad):
    client = staff_client(gateway, roles)
    resp = client.get(path.format(id=bad))
    assert resp.status_code == 404 and "Not found" in resp.get_data(as_text=True)
    assert gateway.extensions["console"].calls == []


@pytest.mark.parametrize("method,path", [
    ("get", "/portal/sharing-requests/{id}"), ("post", "/portal/sharing-requests/{id}/decline"),
    ("get", "/portal/corrections/{id}"), ("post", "/portal/sharing/{id}/stop"),
    ("post", "/portal/settings/caregivers/{id}/stop"),
])
def test_a_dot_id_in_a_portal_url_is_a_404_page_and_never_reaches_the_api(gateway, method, path):
    client = patient_client(gateway, "patient/*.rs patient/Consent.cruds patient/Task.c")
    resp = getattr(client, method)(path.format(id=".."), data={"csrf_token": CSRF})
    assert resp.status_code == 404 and "Not found" in resp.get_data(as_text=True)
    assert [p for m, p, _kw in gateway.extensions["portal"].calls if ".." in p] == []


def ask_for_records(client):
    return client.post("/console/requests", data={
        "csrf_token": CSRF, "once": ONCE, "patient": "p-1", "purpose": "TREAT", "kinds": ["Observation"]})


def test_the_ask_for_records_form_sent_twice_makes_one_request_and_both_land_on_it(gateway):
    api = gateway.extensions["console"]
    api.answers[("POST", "/staff/v1/requests")] = {"id": "req-1"}
    client = staff_client(gateway, ("clinician",))
    first, again = ask_for_records(client), ask_for_records(client)
    assert (first.status_code, first.location) == (303, "/console/requests/req-1")
    assert (again.status_code, again.location) == (303, "/console/requests/req-1")
    assert api.sent("POST") == ["/staff/v1/requests"]
    assert flashes(client) == ["You sent this form already. This is what it made."]


def test_a_second_send_while_the_first_is_under_way_makes_nothing_and_another_persons_token_leads_nowhere(gateway):
    sends = gateway.extensions["gateway"].stores.form_sends
    assert sends.claim(ONCE, "staff-1") == (True, None)  # the first send, not yet answered
    api = gateway.extensions["console"]
    again = ask_for_records(staff_client(gateway, ("clinician",)))
    assert (again.status_code, again.location) == (303, "/console/requests")
    assert api.calls == []
    sends.done(ONCE, "/console/requests/req-1")
    assert sends.claim(ONCE, "staff-2") == (False, None)


def test_a_form_the_api_refused_may_be_sent_again_once_corrected(gateway):
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/inbox")] = {"items": [], "next": None}
    api.answers[("POST", "/staff/v1/requests")] = ApiError(422, {"detail": "No such patient.", "fields": ["patient"]})
    client = staff_client(gateway, ("clinician",))
    refused = ask_for_records(client)
    assert refused.status_code == 400
    assert "No such patient." in refused.get_data(as_text=True)
    api.answers[("POST", "/staff/v1/requests")] = {"id": "req-2"}
    assert ask_for_records(client).location == "/console/requests/req-2"
    assert api.sent("POST") == ["/staff/v1/requests", "/staff/v1/requests"]


def test_an_invite_is_made_once_and_its_code_shown_once_on_the_page_after_the_redirect(gateway):
    api = gateway.extensions["console"]
    api.answers[("POST", "/staff/v1/admin/invites")] = {"invite_code": "ABCD-EFGH-JKMN", "display_name": "Dr. Paz",
                                                        "roles": [{"code": "clinician", "display": "Clinician"}],
                                                        "expires": {"display": "December 12, 2026"}}
    client = staff_client(gateway, ("admin",), scope="user/Staff.cruds")
    form = {"csrf_token": CSRF, "once": ONCE, "display_name": "Dr. Paz", "roles": ["clinician"]}
    made = client.post("/console/invite", data=form)
    assert (made.status_code, made.location) == (303, "/console/invited")
    shown = client.get("/console/invited")
    assert shown.status_code == 200 and "ABCD-EFGH-JKMN" in shown.get_data(as_text=True)
    assert client.get("/console/invited").location == "/console/"  # a reload shows it no more
    assert client.post("/console/invite", data=form).location == "/console/invited"
    assert client.get("/console/invited").location == "/console/"
    assert api.sent("POST") == ["/staff/v1/admin/invites"]


def correction_item(version: str) -> dict:
    shown = {"display": "December 1, 2026"}
    return {"id": "t1", "state": "open", "days_left": 12, "patient": {"id": "p-1", "name": "Ana"},
            "record": {"type": "Observation", "id": "o1", "title": "Weight", "reference": "Observation/o1"},
            "asked": shown, "due": shown, "status": {"status_text": "Waiting"}, "next_step": "Answer it.",
            "what_is_wrong": "Wrong weight", "correction": "70 kg", "answer": None, "disagreement": None,
            "resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                         "meta": {"versionId": version}, "code": {"text": "Weight"}}}


def amend(client, version: str):
    return client.post("/console/corrections/t1/accept", data={
        "csrf_token": CSRF, "action": "amend", "version": version,
        "resource": json.dumps(correction_item(version)["resource"] | {"status": "amended"})})


def test_an_amend_names_the_version_the_officer_corrected(gateway):
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/corrections/t1")] = correction_item("3")
    api.answers[("POST", AMEND)] = {"id": "t1"}
    resp = amend(staff_client(gateway, ("records-officer",)), "2")
    assert (resp.status_code, resp.location) == (303, "/console/corrections/t1")
    (kw,) = [kw for m, p, kw in api.calls if (m, p) == ("POST", AMEND)]
    assert kw["headers"] == {"If-Match": 'W/"2"'}  # the page's version, not the one read now


def test_an_amend_the_records_service_finds_stale_shows_the_record_as_it_is_now(gateway):
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/corrections/t1")] = correction_item("3")
    api.answers[("POST", AMEND)] = ApiError(412, {"detail": "The record changed."})
    resp = amend(staff_client(gateway, ("records-officer",)), "2")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 412 and "The record changed after you opened this page." in page
    assert 'name="version" value="3"' in page


def test_a_claim_reviewed_already_is_said_above_the_claim_not_on_a_hidden_form(gateway):
    api = gateway.extensions["console"]
    api.answers[("POST", "/staff/v1/break-glass-reviews/c1")] = ApiError(
        409, {"detail": "This claim was reviewed already. A review is recorded once."})
    client = staff_client(gateway, ("privacy-officer",))
    resp = client.post("/console/reviews/c1", data={"csrf_token": CSRF, "outcome": "justified"})
    assert (resp.status_code, resp.location) == (303, "/console/reviews/c1")
    assert flashes(client) == ["This claim was reviewed already. A review is recorded once."]


def test_asking_the_patient_when_the_request_no_longer_needs_it_says_so_and_sends_nothing(gateway):
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/requests/r1")] = {"id": "r1", "next_step": {"code": "download"}}
    client = staff_client(gateway, ("clinician",))
    resp = client.post("/console/requests/r1/ask", data={"csrf_token": CSRF, "share_reason": "Care", "days": "90"})
    assert (resp.status_code, resp.location) == (303, "/console/requests/r1")
    assert flashes(client) == ["This request no longer needs the patient to share. Read its next step."]
    assert api.sent("POST") == []


@pytest.mark.parametrize("path", ["/portal/corrections", "/portal/corrections/new?record=o1", "/portal/corrections/t1"])
def test_the_correction_pages_need_the_right_to_read_the_record_too(gateway, path):
    client = patient_client(gateway, "patient/Task.c")
    resp = client.get(path)
    assert resp.status_code == 403 and "Not allowed" in resp.get_data(as_text=True)
    assert gateway.extensions["portal"].calls == []


def test_console_times_are_said_in_utc_on_the_utc_day(gateway):
    from gateway.portal.console_exchange import when
    with gateway.test_request_context("/console/", headers={"Accept-Language": "en"}):
        said = when("2026-12-05T00:30:00+01:00")
    assert said.startswith("December 4, 2026 at 11:30") and said.endswith(" UTC")


def test_an_answer_by_a_colleague_names_them_not_their_account_id(gateway):
    from tests.support.staff import enrolled
    colleague, _secret, _codes = enrolled(gateway.extensions["gateway"].stores.staff, time.time(),
                                          department="primary-care", roles=("records-officer",),
                                          username="ro.lee", display_name="Sam Lee")
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/corrections/t1")] = correction_item("2") | {
        "state": "answered", "answer": {"outcome": {"status_text": "Denied"}, "reason": "Correct as it is.",
                                        "answered_by": {"staff": colleague.id, "practitioner": None}}}
    page = staff_client(gateway, ("records-officer",)).get("/console/corrections/t1").get_data(as_text=True)
    assert "Sam Lee" in page and colleague.id not in page


def test_the_records_sent_page_asks_for_one_patient_only_by_an_id_and_only_for_a_privacy_officer(gateway):
    api = gateway.extensions["console"]
    shown = {"display": "December 1, 2026"}
    api.answers[("GET", "/staff/v1/disclosures")] = lambda kw: {"next": None, "items": [{
        "id": "7", "patient": (kw.get("params") or {}).get("patient", "p-1"),
        "recipient": {"department": "emergency", "display": "Emergency"},
        "purpose": {"code": "ETREAT", "display": "Emergency treatment"},
        "records": [{"code": "Observation", "display": "Lab results"}], "date": shown,
        "released_at": "2026-12-01T10:00:00+00:00", "basis": "break-glass", "consent": None,
        "break_glass_id": "g-1", "withheld": 2, "requested_by": {"sub": "s-9", "fhirUser": "Practitioner/s-9"},
        "ledger": {"seq": 7, "hash": "ab"}}]}
    officer = staff_client(gateway, ("privacy-officer",))
    page = officer.get("/console/disclosures?patient=p-4").get_data(as_text=True)
    assert "Emergency, December 1, 2026" in page and "2 private records" in page
    assert 'href="/console/reviews/g-1"' in page and "Practitioner/s-9" in page
    assert api.calls[-1][2]["params"] == {"patient": "p-4"}
    bad = officer.get("/console/disclosures?patient=..")
    assert bad.status_code == 400 and 'aria-describedby="patient-hint patient-error"' in bad.get_data(as_text=True)
    assert len(api.calls) == 1
    assert staff_client(gateway, ("clinician",)).get("/console/disclosures").status_code == 403


def test_the_correction_worklist_shows_a_page_and_a_link_to_the_next(gateway):
    api = gateway.extensions["console"]
    pages = {None: {"items": [correction_item("1")], "next": "c2"}, "c2": {"items": [], "next": None}}
    api.answers[("GET", "/staff/v1/corrections")] = lambda kw: pages[(kw.get("params") or {}).get("cursor")]
    officer = staff_client(gateway, ("records-officer",))
    first = officer.get("/console/corrections").get_data(as_text=True)
    assert 'href="/console/corrections?cursor=c2"' in first and 'href="/console/corrections/t1"' in first
    last = officer.get("/console/corrections?cursor=c2").get_data(as_text=True)
    assert "There are no more open correction requests." in last and "cursor=" not in last


def test_an_amend_without_the_version_it_was_made_on_is_not_sent(gateway):
    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/corrections/t1")] = correction_item("3")
    for version in ("", "3 ", "W/\"3\""):
        resp = amend(staff_client(gateway, ("records-officer",)), version)
        assert resp.status_code == 412 and 'name="version" value="3"' in resp.get_data(as_text=True), version
    assert api.sent("POST") == []


@pytest.mark.parametrize("failure", [ApiError(502), ApiError(504)])
def test_a_form_whose_send_may_have_reached_the_api_is_not_sent_again(gateway, failure):
    api = gateway.extensions["console"]
    api.answers[("POST", "/staff/v1/requests")] = failure
    client = staff_client(gateway, ("clinician",))
    assert ask_for_records(client).status_code == 502
    api.answers[("POST", "/staff/v1/requests")] = {"id": "req-3"}
    again = ask_for_records(client)
    assert (again.status_code, again.location) == (303, "/console/requests")  # the list, to look first
    assert api.sent("POST") == ["/staff/v1/requests"]


def test_an_id_with_a_line_break_is_no_id():
    assert not path_id("abc\n") and not path_id("..\n")


def test_a_revoked_token_on_the_records_sent_page_signs_the_officer_out_and_shows_nothing(gateway):
    from gateway.portal.client import SignedOut

    def refused(_token):
        raise SignedOut(401)

    api = gateway.extensions["console"]
    api.answers[("GET", "/staff/v1/disclosures")] = SignedOut(401)
    api.refresh = refused  # the refresh token was revoked with it
    officer = staff_client(gateway, ("privacy-officer",))
    resp = officer.get("/console/disclosures")
    assert (resp.status_code, resp.location) == (303, "/console/")
    with officer.session_transaction() as s:
        assert "staff" not in s


def test_an_oversized_patient_id_on_the_records_sent_page_is_a_400_that_asks_nothing(gateway):
    resp = staff_client(gateway, ("privacy-officer",)).get("/console/disclosures?patient=" + "p" * 65)
    assert resp.status_code == 400 and 'id="patient-error"' in resp.get_data(as_text=True)
    assert gateway.extensions["console"].calls == []


def test_the_invite_page_shows_a_code_only_to_the_admin_whose_send_made_it(gateway):
    made = {"invite_code": "ABCD-EFGH-JKMN", "display_name": "Dr. Paz", "roles": [],
            "expires": {"display": "December 12, 2026"}}
    for roles, scope in ((("clinician",), ""), (("admin",), "")):  # not an admin: no Staff scope
        client = staff_client(gateway, roles, scope=scope)
        with client.session_transaction() as s:
            s["invited"] = made
        resp = client.get("/console/invited")
        assert (resp.status_code, resp.location) == (303, "/console/")
    assert gateway.test_client().get("/console/invited").location == "/console/"  # signed out
    refused = staff_client(gateway, ("clinician",)).post("/console/invite", data={
        "csrf_token": CSRF, "once": ONCE, "display_name": "Dr. Paz", "roles": ["clinician"]})
    assert refused.status_code == 403 and gateway.extensions["console"].calls == []
