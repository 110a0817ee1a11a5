"""The decision fast route (consent.entrypoints.fastpath) on a real database with real tokens: a
well-formed question skips Flask and is answered as the view answers it; anything else is the view's."""
import json

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.support.apps import behind_fast_path
from tests.support.consent import count_decisions, department, grant, patient


QUESTION = {"patient": "pat-1", "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]}


@pytest.mark.parametrize("granted", [True, False])
def test_a_well_formed_question_is_answered_without_flask_exactly_as_the_view_answers(consent, mint, granted):
    client, app = consent.client, consent.app
    if granted:
        assert grant(client, patient(mint)).status_code == 201
    calls = count_decisions(app)
    headers = {**department(mint), "Accept-Language": "es"}
    fast = client.post("/consent/v1/decisions", json=QUESTION, headers=headers)
    assert calls == []
    slow = Client(behind_fast_path(app), Response).post("/consent/v1/decisions", json=QUESTION, headers=headers)
    assert calls == [1]
    assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data())
    assert dict(fast.headers) == dict(slow.headers)
    assert fast.get_json()["decision"] == ("permit" if granted else "deny")


def test_a_revocation_is_seen_by_the_next_fast_decision(consent, mint):
    client, _ = consent
    created = grant(client, patient(mint))
    ask = lambda: client.post("/consent/v1/decisions", json=QUESTION, headers=department(mint)).get_json()
    assert ask()["decision"] == "permit"
    assert client.delete(f"/patient/v1/consents/{created.get_json()['id']}", headers=patient(mint)).status_code in (200, 204)
    assert ask()["decision"] == "deny"


@pytest.mark.parametrize("case,status", [
    ("no token", 401), ("bad token", 401), ("no scope", 403), ("not json", 422), ("a list", 422),
    ("unknown purpose", 422), ("unknown label", 422), ("form body", 422), ("another department", 403)])
def test_every_other_question_goes_to_the_view_and_comes_back_as_a_problem(consent, mint, case, status):
    client = consent.client
    headers = department(mint)
    data, content_type = json.dumps(QUESTION), "application/json"
    if case == "no token":
        headers = {}
    elif case == "bad token":
        headers = {"Authorization": "Bearer x.y.z"}
    elif case == "no scope":
        headers = department(mint, scope="system/Observation.rs")
    elif case == "not json":
        data = "{not json"
    elif case == "a list":
        data = json.dumps([QUESTION])
    elif case == "unknown purpose":
        data = json.dumps({**QUESTION, "purpose": "SELLING"})
    elif case == "unknown label":
        data = json.dumps({**QUESTION, "classes": ["XYZ"]})
    elif case == "another department":  # the fast route never answers what the view refuses
        headers = department(mint, "research")
    elif case == "form body":
        data, content_type = "patient=pat-1", "application/x-www-form-urlencoded"
    resp = client.post("/consent/v1/decisions", data=data, headers={**headers, "Content-Type": content_type})
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    if status == 422:
        assert resp.get_json()["fields"]
