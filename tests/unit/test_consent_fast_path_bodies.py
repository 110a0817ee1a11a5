"""The consent decision's fast path reads a body with the view's own parse
(services.common.bodies.parse_json): a body the view refuses -- NaN or Infinity, which the json
module accepts, nesting deeper than 64 levels, text that is not JSON -- is never answered by the
fast path, and the answer is the view's to the byte."""
import json
import re

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Response

from services.common import bodies
from services.common.config import load_settings
from services.common.db import make_engine, migrate
from services.consent import MIGRATIONS_DIR
from services.consent.entrypoints.fastpath import fast_decide
from services.consent.entrypoints.http import create_app
from tests.support.apps import behind_fast_path
from tests.support.directory import seed_directory

# A question the fast path answers, with one more member it ignores.
QUESTION = '{{"patient":"pat-1","actor":"cardiology","purpose":"TREAT","classes":["Observation"],"note":{note}}}'
REFUSED = {
    "NaN": (QUESTION.format(note="NaN"), 422),
    "Infinity": (QUESTION.format(note="Infinity"), 422),
    "-Infinity": (QUESTION.format(note="-Infinity"), 422),
    "nested 65 deep": (QUESTION.format(note="[" * 64 + "]" * 64), 400),
    "not JSON": (QUESTION.format(note="pat-1"), 422),  # an unquoted string
}


@pytest.fixture
def app(mint, tmp_path):
    """The consent app on a migrated SQLite file."""
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    seed_directory(engine)  # the demo's departments: a department the directory lacks gets a 401
    settings = load_settings("consent", {"PHR_VAR_DIR": str(tmp_path)}, database_url=url,
                             issuer=mint.issuer, audience=mint.audience, testing=True,
                             contract_checks="enforce")
    yield create_app({"settings": settings, "engine": engine, "validator": mint.validator()})
    engine.dispose()


def _headers(mint) -> dict:
    return {**mint.department("cardiology", "system/Consent.r"), "Content-Type": "application/json"}


def _count_decide(app) -> list:
    calls, view = [], app.view_functions["departments.decide"]
    app.view_functions["departments.decide"] = lambda: calls.append(1) or view()
    return calls


def test_the_same_question_with_a_number_is_the_fast_paths_and_the_json_module_reads_the_constants(app, mint):
    calls = _count_decide(app)
    resp = Client(app, Response).post("/consent/v1/decisions", data=QUESTION.format(note="1"),
                                      headers=_headers(mint))
    assert (resp.status_code, resp.get_json()["decision"], calls) == (200, "deny", [])
    for case in ("NaN", "Infinity", "-Infinity"):
        assert json.loads(REFUSED[case][0])  # what a fast path parsing with json.loads would answer


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_fast_route_leaves_a_body_the_view_refuses_to_the_view(app, mint, case):
    body, _status = REFUSED[case]
    route = fast_decide(app.extensions["consent"], app.extensions["token_validator"])
    environ = EnvironBuilder(method="POST", path="/consent/v1/decisions", data=body.encode(),
                             headers=_headers(mint)).get_environ()
    assert route.handler(environ, re.match(".*", "")) is None
    assert environ["wsgi.input"].read() == body.encode()  # put back for the view


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_body_the_view_refuses_is_answered_by_the_view_byte_for_byte(app, mint, case):
    body, status = REFUSED[case]
    calls = _count_decide(app)
    through_fast_path = Client(app, Response).post("/consent/v1/decisions", data=body,
                                                   headers=_headers(mint))
    view_alone = Client(behind_fast_path(app), Response).post("/consent/v1/decisions", data=body,
                                                         headers=_headers(mint))
    assert calls == [1, 1]  # the fast path handed its request to the view
    assert through_fast_path.status_code == view_alone.status_code == status
    assert through_fast_path.headers["Content-Type"] == view_alone.headers["Content-Type"] \
        == "application/problem+json"
    assert through_fast_path.get_data() == view_alone.get_data()
    if status == 422:
        assert through_fast_path.get_json()["fields"] == ["body"]


def test_the_fast_route_and_the_view_parse_with_one_function():
    assert bodies.parse_json(b'{"a":NaN}', "application/json") is None
    assert bodies.parse_json(b'{"a":1}', "application/json; charset=utf-8") == {"a": 1}
    assert bodies.parse_json(b'{"a":1}', "text/plain") is None
    with pytest.raises(bodies.Problem) as refused:
        bodies.parse_json(b"[" * 65 + b"]" * 65, "application/json")
    assert refused.value.status == 400
