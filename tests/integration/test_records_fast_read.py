"""The records read fast path (entrypoints.fastpath) on a real database with real tokens:
a custodian's plain read skips Flask and answers as the view does; every other read is the view's."""
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.support.apps import behind_fast_path, records_app
from tests.support.fhir import small_bundle


@pytest.fixture
def observation(records, mint) -> str:
    """The id of an Observation primary care stored."""
    bundle = small_bundle("pat-7")
    assert records.client.post("/fhir", json=bundle, headers=mint.department()).status_code == 200
    return bundle["entry"][1]["resource"]["id"]


def _count_reads(app) -> list:
    calls, view = [], app.view_functions["fhir.read"]

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return view(*args, **kwargs)

    app.view_functions["fhir.read"] = counted
    return calls


def test_the_custodians_plain_read_does_not_enter_flask_and_answers_as_the_view_does(records, observation, mint):
    app, client, oid = records.app, records.client, observation
    calls = _count_reads(app)
    headers = {**mint.department(), "Accept-Language": "es"}
    fast = client.get(f"/fhir/Observation/{oid}", headers=headers)
    assert calls == []
    slow = Client(behind_fast_path(app), Response).get(f"/fhir/Observation/{oid}", headers=headers)
    assert len(calls) == 1
    assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data()) == (200, slow.get_data())
    assert dict(fast.headers) == dict(slow.headers)
    assert fast.headers["Content-Language"] == "es" and fast.headers["ETag"] == 'W/"1"'


@pytest.mark.parametrize("case", ["other department", "unknown id", "no token", "bad token",
                                  "no scope", "no department", "conditional", "query", "a final newline"])
def test_every_other_read_is_answered_by_the_view(records, observation, mint, case):
    app, client, oid = records.app, records.client, observation
    calls = _count_reads(app)
    path, headers = f"/fhir/Observation/{oid}", mint.department()
    expected = {"other department": 404, "unknown id": 404, "no token": 401, "bad token": 401,
                "no scope": 403, "no department": 403, "conditional": 304, "query": 200,
                "a final newline": 404}[case]
    if case == "other department":
        headers = mint.department("cardiology")
    elif case == "unknown id":
        path = "/fhir/Observation/nope"
    elif case == "no token":
        headers = {}
    elif case == "bad token":
        headers = {"Authorization": "Bearer x.y.z"}
    elif case == "no scope":
        headers = mint.department(scope="system/Patient.rs")
    elif case == "no department":
        headers = {"Authorization": f"Bearer {mint.token()}"}
    elif case == "conditional":
        headers = {**headers, "If-None-Match": 'W/"1"'}
    elif case == "query":
        path += "?_format=json"
    elif case == "a final newline":  # %0A: the view's to refuse (the fast route's pattern is matched whole)
        path += "%0A"
    resp = client.get(path, headers=headers)
    assert resp.status_code == expected
    assert len(calls) == (0 if case in ("no token", "bad token") else 1)  # those stop in before_request
    if expected >= 400:
        assert resp.content_type == "application/fhir+json"
        assert "pat-7" not in resp.get_data(as_text=True)


def test_a_read_whose_database_fails_is_a_problem_from_the_view_never_a_bare_error(database_url, mint, tmp_path):
    import sqlalchemy as sa

    with records_app(database_url, mint, tmp_path) as (app, engine):
        client = app.test_client()
        bundle = small_bundle("pat-8")
        assert client.post("/fhir", json=bundle, headers=mint.department()).status_code == 200
        with engine.begin() as conn:  # the table goes away: a broken dependency
            conn.execute(sa.text("ALTER TABLE resources RENAME TO resources_away"))
        resp = client.get(f"/fhir/Observation/{bundle['entry'][1]['resource']['id']}", headers=mint.department())
        assert resp.status_code >= 500
        assert resp.content_type == "application/fhir+json" and "pat-8" not in resp.get_data(as_text=True)
