"""The runtime contract checks (services/common/contract_checks.py) keep the reading grade of the
patient text they score (phr_patient_text_grade) and the share of patient responses served in the
language asked for (phr_preferred_language_ratio)."""
from __future__ import annotations

import pytest
from flask import Flask, jsonify
from prometheus_client import CollectorRegistry, generate_latest

from services.common import contract_checks, i18n, measures
from services.common.measures import MeasureCollector
from tests.support.metrics import sample

EASY = ("You saw your doctor on Monday. She checked your blood and your heart. "
        "Both are fine. Come back in one year.")
HARD = ("Comprehensive cardiovascular evaluation demonstrated hemodynamically insignificant "
        "atherosclerotic irregularities necessitating longitudinal pharmacological surveillance.")


def app_with_checks() -> tuple[Flask, CollectorRegistry]:
    app, registry = Flask(__name__), CollectorRegistry()
    registry.register(MeasureCollector(measures.providers(app)))
    contract_checks.install(app, "test", registry, "report")
    i18n.install(app)

    @app.get("/patient/v1/summary/<which>")
    def summary(which):
        return jsonify(summary=EASY if which == "easy" else HARD)

    @app.get("/staff/v1/summary")
    def staff():
        return jsonify(summary=HARD)

    return app, registry


@pytest.mark.contract_violations_expected  # the hard text is there to land above grade 8
def test_each_scored_text_lands_in_the_grade_histogram_by_language():
    app, registry = app_with_checks()
    client = app.test_client()
    for which in ("easy", "easy", "hard"):
        client.get(f"/patient/v1/summary/{which}", headers={"Accept-Language": "en"})
    client.get("/staff/v1/summary")  # not patient-facing: not scored
    text = generate_latest(registry).decode()
    assert sample(text, "phr_patient_text_grade_count", language="en") == 3.0
    assert sample(text, "phr_patient_text_grade_bucket", language="en", le="8.0") == 2.0
    assert sample(text, "phr_patient_text_grade_bucket", language="en", le="+Inf") == 3.0


def test_the_share_served_in_the_language_asked_for_falls_with_each_fallback():
    app, registry = app_with_checks()
    client = app.test_client()
    client.get("/patient/v1/summary/easy", headers={"Accept-Language": "es"})
    client.get("/patient/v1/summary/easy", headers={"Accept-Language": "pt-BR"})
    text = generate_latest(registry).decode()
    assert sample(text, "phr_preferred_language_ratio", language="es") == 1.0
    assert sample(text, "phr_preferred_language_ratio", language="pt") == 0.0
    client.get("/patient/v1/summary/easy", headers={"Accept-Language": "es"})
    client.get("/staff/v1/summary", headers={"Accept-Language": "pt"})  # not a patient's response
    text = generate_latest(registry).decode()
    assert sample(text, "phr_patient_responses_total", language="es", outcome="preferred") == 2.0
    assert sample(text, "phr_patient_responses_total", language="pt", outcome="fallback") == 1.0


def test_a_spanish_reading_ease_is_read_as_a_grade_by_flesch_bands():
    from contracts.accessibility.readability import grade_of_ease
    assert [grade_of_ease(e) for e in (95, 85, 75, 65, 55, 40, 10)] == [5, 6, 7, 8.5, 11, 14, 17]
