"""The records page fast route (entrypoints.fastpath, fast_records_page) on a real database with
real tokens: a patient's own page skips Flask and answers as the view does, 200 and 304; every
other request is the view's; the contract check, the language count and the request metrics
still see each page it serves."""
import logging

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from services.records.service_layer import patient as uc
from tests.support.apps import behind_fast_path, count_view_calls
from tests.support.fhir import demo_bundle
from tests.support.tokens import revoked

GUSTAVO = "cdf500b9-7cc4-424d-a86c-a18e6620d6e7"  # prefers Spanish
LIZ = "ee9f8dd8-72d2-4769-8020-89e504b1504b"      # prefers en-US
SCOPE = "openid fhirUser offline_access patient/*.rs patient/Observation.c patient/Task.c"
PAGE = "/patient/v1/records"
#: A page that breaks the colour-only rule (contracts/accessibility/rules.py).
BAD_PAGE = {"items": [{"status": {"status": "high", "colour": "red"}}], "next": None}


@pytest.fixture
def records_settings() -> dict:
    """Report mode: in enforce mode the view answers every page (see the last test)."""
    return {"contract_checks": "report"}


@pytest.fixture(autouse=True)
def two_patients(records, mint):
    for name in ("Gustavo_Mejia", "Liz_Conn"):
        assert records.client.post("/fhir", json=demo_bundle(name), headers=mint.department()).status_code == 200


def _me(mint, patient=GUSTAVO, language="es", **claims) -> dict:
    headers = mint.patient(patient, scope=claims.pop("scope", SCOPE), sub=f"acct-{patient[:6]}",
                           fhirUser=f"Patient/{patient}", **claims)
    return {**headers, "Accept-Language": language} if language else headers


def _count_pages(app) -> list:
    """Count the calls of the Flask view of the page: what the fast route answers never reaches it."""
    return count_view_calls(app, "patient.records")


def _sample(app, name: str, labels: dict) -> float:
    return app.extensions["metrics_registry"].get_sample_value(name, labels) or 0.0


def _both(app, path: str, headers: dict):
    """The answer of the whole app (fast route first) and of Flask alone."""
    fast = app.test_client().get(path, headers=headers)
    slow = Client(behind_fast_path(app), Response).get(path, headers=headers)
    return fast, slow


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("query", ["", "?limit=2", "?category=conditions&limit=1"])
def test_a_patients_own_page_is_answered_without_flask_exactly_as_the_view_answers(records, mint, language, query):
    app = records.app
    calls = _count_pages(app)
    fast, slow = _both(app, PAGE + query, _me(mint, language=language))
    assert calls == [1]  # the view answered only the request sent past the fast route
    assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data()) == (200, slow.get_data())
    assert dict(fast.headers) == dict(slow.headers)
    assert fast.headers["Content-Language"] == language and fast.get_json()["items"]


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_page_the_patient_holds_is_a_304_without_flask_exactly_as_the_views(records, mint, language):
    app = records.app
    etag = app.test_client().get(PAGE, headers=_me(mint, language=language)).headers["ETag"]
    calls = _count_pages(app)
    fast, slow = _both(app, PAGE, {**_me(mint, language=language), "If-None-Match": etag})
    assert calls == [1]
    assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data()) == (304, b"")
    assert dict(fast.headers) == dict(slow.headers)
    assert fast.headers["ETag"] == etag


def test_the_next_page_by_its_cursor_is_answered_without_flask_as_the_view_answers(records, mint):
    app = records.app
    first = app.test_client().get(f"{PAGE}?limit=2", headers=_me(mint)).get_json()
    calls = _count_pages(app)
    fast, slow = _both(app, f"{PAGE}?limit=2&cursor={first['next']}", _me(mint))
    assert calls == [1]
    assert (fast.status_code, fast.get_data(), dict(fast.headers)) == (slow.status_code, slow.get_data(),
                                                                     dict(slow.headers))
    assert {i["id"] for i in fast.get_json()["items"]}.isdisjoint(i["id"] for i in first["items"])


def test_a_patient_is_never_shown_another_patients_page_nor_matches_their_etag(records, mint):
    client = records.app.test_client()
    gustavo = client.get(PAGE, headers=_me(mint))
    calls = _count_pages(records.app)
    liz = client.get(PAGE, headers={**_me(mint, LIZ), "If-None-Match": gustavo.headers["ETag"]})
    assert calls == []
    assert liz.status_code == 200 and liz.headers["ETag"] != gustavo.headers["ETag"]
    assert {i["id"] for i in liz.get_json()["items"]}.isdisjoint(i["id"] for i in gustavo.get_json()["items"])


#: The fall-through cases that change the page's address, not the token.
_SUFFIXES = {"bad limit": "?limit=0", "bad category": "?category=secrets", "bad cursor": "?cursor=abc",
             "an escaped value": "?category=condition%73", "a repeated parameter": "?limit=1&limit=2",
             "another parameter": "?_format=json",
             "a final newline": "%0A"}  # no such page: the fast route's pattern is matched whole


@pytest.mark.parametrize("case,status", [
    ("department token", 403), ("no token", 401), ("bad token", 401), ("missing scope", 403),
    ("caregiver", 200), ("caregiver without the right", 403), ("no Accept-Language", 200),
    ("a wildcard language", 200), ("bad limit", 422), ("bad category", 422), ("bad cursor", 422),
    ("an escaped value", 200), ("a repeated parameter", 200), ("another parameter", 200),
    ("a final newline", 404)])
def test_every_other_request_goes_to_the_view_and_gets_its_answer(records, mint, case, status):
    app = records.app
    calls = _count_pages(app)
    path, headers = PAGE + _SUFFIXES.get(case, ""), _me(mint)
    if case == "department token":
        headers = {**mint.department(), "Accept-Language": "es"}
    elif case == "no token":
        headers = {"Accept-Language": "es"}
    elif case == "bad token":
        headers = {"Authorization": "Bearer x.y.z", "Accept-Language": "es"}
    elif case == "missing scope":
        headers = _me(mint, scope="openid patient/Observation.rs")
    elif case == "caregiver":
        headers = _me(mint, act={"sub": "carer-7"})
    elif case == "caregiver without the right":
        headers = _me(mint, act={"sub": "carer-7"}, scope="openid patient/Consent.r")
    elif case == "no Accept-Language":
        headers = _me(mint, language=None)
    elif case == "a wildcard language":
        headers = _me(mint, language="*")
    resp = app.test_client().get(path, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    # no token, a bad one: they stop in before_request; a final newline matches no route of the app
    assert len(calls) == (0 if case in ("no token", "bad token", "a final newline") else 1)
    if status >= 400:
        assert resp.content_type == "application/problem+json"
    if case == "bad limit":
        assert resp.get_json()["fields"] == ["limit"]
    if case in ("no Accept-Language", "a wildcard language"):  # the patient's preferred language
        assert resp.headers["Content-Language"] == "es"


def test_a_page_served_on_the_fast_route_is_counted_like_one_the_view_serves(records, mint):
    app = records.app
    served = {"language": "es", "outcome": "preferred"}
    request = {"service": "records", "method": "GET", "route": PAGE, "status": "200"}
    before = (_sample(app, "phr_patient_responses_total", served), _sample(app, "http_requests_total", request),
              _sample(app, "phr_patient_text_grade_count", {"language": "es"}))
    calls = _count_pages(app)
    assert app.test_client().get(PAGE, headers=_me(mint)).status_code == 200
    assert calls == []
    after = (_sample(app, "phr_patient_responses_total", served), _sample(app, "http_requests_total", request),
             _sample(app, "phr_patient_text_grade_count", {"language": "es"}))
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1
    assert after[2] > before[2]  # the page's prose was graded


def _serve_a_bad_page(monkeypatch, tag: str) -> None:
    """Make every records page a page that breaks the contract, under an ETag of its own."""
    monkeypatch.setattr(uc, "list_records", lambda *args, **kwargs: (f'W/"bad-{tag}"', dict(BAD_PAGE)))


def _violations(app) -> float:
    return _sample(app, "contract_violations_total", {"service": "records", "rule": "colour-only"})


@pytest.mark.contract_violations_expected
def test_a_contract_violation_on_the_fast_route_is_logged_and_counted_in_report_mode(records, mint, monkeypatch,
                                                                                      caplog):
    app = records.app
    _serve_a_bad_page(monkeypatch, "report")
    calls = _count_pages(app)
    with caplog.at_level(logging.WARNING, logger="services.common.contract_checks"):
        resp = app.test_client().get(PAGE, headers=_me(mint))
    assert calls == [] and resp.status_code == 200
    assert _violations(app) == 1
    assert any("contract violation on GET /patient/v1/records" in r.getMessage() for r in caplog.records)


@pytest.mark.contract_violations_expected
def test_in_enforce_mode_the_view_answers_every_page_and_a_violation_is_its_500(service_apps, database_url,
                                                                                 mint, monkeypatch):
    app = service_apps.records(database_url, contract_checks="enforce").app
    _serve_a_bad_page(monkeypatch, "enforce")
    calls = _count_pages(app)
    resp = app.test_client().get(PAGE, headers=_me(mint))
    assert calls == [1]
    assert resp.status_code == 500 and resp.get_json()["type"].endswith("/contract-violation")
    assert _violations(app) == 1


def test_a_revoked_token_gets_no_page_on_the_fast_route_and_the_views_401(records, mint):
    app, headers = records.app, _me(mint)
    assert app.test_client().get(PAGE, headers=headers).status_code == 200
    with revoked(app, headers):
        resp = app.test_client().get(PAGE, headers=headers)
    assert resp.status_code == 401 and resp.get_json()["detail"] == "El token de acceso fue anulado."
    assert "items" not in resp.get_json()
