"""The contract plugin fails a test whose patient-facing responses break the accessibility rules."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

APP = '''
import threading

import pytest
import requests
from flask import Flask, jsonify
from werkzeug.serving import make_server

BAD = {"items": [{"status": {"status": "high", "colour": "red"}}], "next": None}
GOOD = {"items": [{"status": {"status": "high", "colour": "red", "status_text": "High"}}]}


def make_app():
    app = Flask("inner")

    @app.get("/patient/v1/bad")
    def bad():
        return jsonify(BAD), 200, {"Content-Language": "en"}

    @app.get("/patient/v1/good")
    def good():
        return jsonify(GOOD), 200, {"Content-Language": "en"}

    @app.get("/patient/v1/moved")
    def moved():
        return "", 302, {"Location": "/patient/v1/bad"}

    @app.get("/clinician/v1/bad")
    def clinician():
        return jsonify(BAD)

    return app


@pytest.fixture
def client():
    return make_app().test_client()


@pytest.fixture
def base_url():
    server = make_server("127.0.0.1", 0, make_app())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
'''


@pytest.fixture
def inner(pytester, monkeypatch):
    """A scratch test suite that loads the contract plugin and can import this project."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(APP)

    def run(test_source: str, *args: str):
        pytester.makepyfile(test_inner=test_source)
        return pytester.runpytest_subprocess("-p", "tests.support.contract_plugin", "-q", *args)

    return run


def test_a_bad_payload_from_the_flask_test_client_fails_its_test(inner):
    result = inner("def test_reads_the_bad_page(client):\n"
                   "    assert client.get('/patient/v1/bad').status_code == 200\n")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "ContractViolation" in out
    assert "GET /patient/v1/bad -> 200 (at test_inner.py:2)" in out
    assert "colour-only at $.items[0].status" in out


def test_a_bad_payload_over_real_http_with_requests_fails_its_test(inner):
    result = inner("import requests\n"
                   "def test_reads_the_bad_page(base_url):\n"
                   "    with requests.Session() as s:\n"
                   "        assert s.get(base_url + '/patient/v1/bad').ok\n")
    result.assert_outcomes(failed=1)
    assert "colour-only at $.items[0].status" in result.stdout.str()


def test_the_opt_out_marker_lets_a_deliberately_bad_payload_pass(inner):
    result = inner("import pytest, requests\n"
                   "@pytest.mark.contract_violations_expected\n"
                   "def test_client(client):\n"
                   "    assert client.get('/patient/v1/bad').status_code == 200\n"
                   "@pytest.mark.contract_violations_expected\n"
                   "def test_http(base_url):\n"
                   "    assert requests.get(base_url + '/patient/v1/bad').ok\n")
    result.assert_outcomes(passed=2)


def test_good_payloads_and_other_paths_pass(inner):
    result = inner("import requests\n"
                   "def test_client(client):\n"
                   "    assert client.get('/patient/v1/good').status_code == 200\n"
                   "    assert client.get('/clinician/v1/bad').status_code == 200\n"
                   "def test_http(base_url):\n"
                   "    assert requests.get(base_url + '/clinician/v1/bad').ok\n")
    result.assert_outcomes(passed=2)


def test_a_violation_fails_the_test_even_if_the_test_swallows_errors(inner):
    result = inner("def test_quiet(client):\n"
                   "    try:\n"
                   "        client.get('/patient/v1/moved', follow_redirects=True)\n"
                   "    except Exception:\n"
                   "        pass\n",
                   # No short summary: its line repeats the message, wider or narrower
                   # depending on the terminal, which would make the count below vary.
                   "-rN")
    result.assert_outcomes(failed=1)
    # The redirect's last hop is reported once, not twice.
    assert result.stdout.str().count("colour-only at $.items[0].status") == 1


def test_a_bad_payload_fetched_by_a_fixture_fails_that_tests_setup(inner):
    result = inner("import pytest\n"
                   "@pytest.fixture\n"
                   "def page(client):\n"
                   "    return client.get('/patient/v1/bad').get_json()\n"
                   "def test_uses_page(page):\n"
                   "    assert page\n")
    result.assert_outcomes(errors=1)
    assert "colour-only at $.items[0].status" in result.stdout.str()


def test_a_service_enforcing_the_contract_has_its_findings_reported(inner):
    result = inner(
        "from flask import Flask, jsonify\n"
        "from prometheus_client import CollectorRegistry\n"
        "from services.common import contract_checks\n"
        "from conftest import BAD\n"
        "def test_enforced():\n"
        "    app = Flask('svc')\n"
        "    app.get('/patient/v1/bad')(lambda: (jsonify(BAD), 200, {'Content-Language': 'en'}))\n"
        "    contract_checks.install(app, 'records', CollectorRegistry(), 'enforce')\n"
        "    assert app.test_client().get('/patient/v1/bad').status_code == 500\n")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "GET /patient/v1/bad -> 500" in out and "colour-only at $.items[0].status" in out
