"""Runtime contract checks on a tiny Flask app: report counts and logs, enforce fails, off is inert."""
from __future__ import annotations

import logging

import pytest
from flask import Flask, jsonify
from prometheus_client import CollectorRegistry

from contracts import accessibility
from services.common import contract_checks

# These tests serve bad patient-facing payloads on purpose.
pytestmark = pytest.mark.contract_violations_expected

GOOD = {"items": [{"summary": "Your blood pressure was normal.",
                   "status": {"status": "normal", "colour": "green", "status_text": "Normal"}}],
        "next": None}
BAD = {"items": [{"status": {"status": "high", "colour": "red"}}], "next": None}


def make_app(mode: str | None, registry: CollectorRegistry) -> Flask:
    app = Flask(__name__)

    @app.get("/patient/v1/good")
    def good():
        return jsonify(GOOD), 200, {"Content-Language": "en"}

    @app.get("/patient/v1/bad")
    def bad():
        return jsonify(BAD), 200, {"Content-Language": "en"}

    @app.get("/patient/v1/no-language")
    def no_language():
        return jsonify(GOOD)

    @app.get("/patient/v1/text")
    def text():
        return "colour: red", 200, {"Content-Type": "text/plain"}

    @app.get("/clinician/v1/bad")
    def clinician():
        return jsonify(BAD)

    contract_checks.install(app, "records", registry, mode)
    return app


def violations_counted(registry: CollectorRegistry, rule: str) -> float:
    return registry.get_sample_value("contract_violations_total",
                                     {"service": "records", "rule": rule}) or 0.0


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_report_mode_counts_and_logs_each_violation_and_keeps_the_response(registry, caplog):
    client = make_app("report", registry).test_client()
    with caplog.at_level(logging.WARNING, logger="services.common.contract_checks"):
        resp = client.get("/patient/v1/bad")
    assert resp.status_code == 200 and resp.get_json() == BAD
    assert violations_counted(registry, "colour-only") == 1
    [record] = [r for r in caplog.records if r.name == "services.common.contract_checks"]
    assert record.levelno == logging.WARNING
    assert "colour-only at $.items[0].status" in record.getMessage()
    assert "/patient/v1/bad" in record.getMessage()


def test_report_is_the_default_mode(registry, monkeypatch):
    monkeypatch.delenv("CONTRACT_CHECKS", raising=False)
    client = make_app(None, registry).test_client()
    assert client.get("/patient/v1/bad").status_code == 200
    assert violations_counted(registry, "colour-only") == 1


def test_a_good_response_counts_nothing(registry):
    client = make_app("report", registry).test_client()
    assert client.get("/patient/v1/good").status_code == 200
    assert violations_counted(registry, "colour-only") == 0
    assert violations_counted(registry, "language-tag") == 0


def test_a_missing_content_language_header_is_counted(registry):
    make_app("report", registry).test_client().get("/patient/v1/no-language")
    assert violations_counted(registry, "language-tag") == 1


def test_enforce_mode_turns_a_bad_response_into_a_500_problem(registry):
    client = make_app("enforce", registry).test_client()
    resp = client.get("/patient/v1/bad")
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["type"] == contract_checks.VIOLATION_TYPE
    assert problem["status"] == 500 and problem["original_status"] == 200
    assert [(v["rule"], v["path"]) for v in problem["violations"]] == [("colour-only", "$.items[0].status")]
    assert violations_counted(registry, "colour-only") == 1


def test_enforce_mode_leaves_a_good_response_alone(registry):
    resp = make_app("enforce", registry).test_client().get("/patient/v1/good")
    assert resp.status_code == 200 and resp.get_json() == GOOD


def test_the_environment_chooses_the_mode(registry, monkeypatch):
    monkeypatch.setenv("CONTRACT_CHECKS", "enforce")
    assert make_app(None, registry).test_client().get("/patient/v1/bad").status_code == 500


def test_off_mode_installs_no_check_and_only_counts_the_language_patients_are_answered_in(registry):
    app = make_app("off", registry)
    assert [f.__name__ for f in app.after_request_funcs.get(None, [])] == ["_count_language"]
    assert app.test_client().get("/patient/v1/bad").status_code == 200
    assert registry.get_sample_value("contract_violations_total",
                                     {"service": "records", "rule": "colour-only"}) is None


def test_only_json_responses_under_patient_v1_are_checked(registry):
    client = make_app("enforce", registry).test_client()
    assert client.get("/clinician/v1/bad").status_code == 200
    assert client.get("/patient/v1/text").status_code == 200
    assert violations_counted(registry, "colour-only") == 0


def test_an_unknown_mode_is_refused(registry):
    with pytest.raises(ValueError, match="CONTRACT_CHECKS"):
        make_app("loud", registry)


LONG = ("Your nurse will call you on the phone next week to talk about the test you had "
        "and what it means for you.")


def test_the_same_body_served_again_answers_as_a_fresh_check_would(registry, monkeypatch):
    checked = []
    real_check = accessibility.check

    def counting_check(*args, **kwargs):
        checked.append(1)
        return real_check(*args, **kwargs)

    # install() imports check when it runs, so the counting one is what it finds.
    monkeypatch.setattr(accessibility, "check", counting_check)
    app = make_app("enforce", registry)

    @app.get("/patient/v1/long")
    def long():
        return jsonify({"items": [{"summary": LONG}], "next": None}), 200, {"Content-Language": "en"}

    client = app.test_client()
    first, second = client.get("/patient/v1/bad"), client.get("/patient/v1/bad")
    assert first.status_code == second.status_code == 500
    assert first.get_json()["violations"] == second.get_json()["violations"]
    assert violations_counted(registry, "colour-only") == 2  # each response served is counted
    client.get("/patient/v1/long"), client.get("/patient/v1/long")
    assert registry.get_sample_value("phr_patient_text_grade_count", {"language": "en"}) == 2
    assert len(checked) == 2  # one walk per distinct body; the second of each reused its outcome


def test_a_changed_body_is_checked_afresh(registry):
    state = {"body": GOOD}
    app = make_app("enforce", registry)

    @app.get("/patient/v1/changing")
    def changing():
        return jsonify(state["body"]), 200, {"Content-Language": "en"}

    client = app.test_client()
    assert client.get("/patient/v1/changing").status_code == 200
    state["body"] = BAD
    assert client.get("/patient/v1/changing").status_code == 500
    state["body"] = GOOD
    assert client.get("/patient/v1/changing").status_code == 200
