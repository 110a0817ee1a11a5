"""The dashboard's charts (gateway/portal/dashboard.py) from measures and /metrics texts: every
known measure has a chart, absent ones say "not measured here", and the grade histogram's
cumulative buckets become counts per grade."""
from __future__ import annotations

from flask import Flask

from gateway.portal import dashboard
from services.common import i18n


def in_request(fn):
    app = Flask(__name__)
    i18n.install(app)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        return fn()


def test_every_known_measure_has_a_chart_and_an_absent_one_says_so():
    measures = [{"name": "phr_correction_requests_open", "help": "h", "value": 2.0,
                 "labels": {"department": "cardiology"}, "service": "records"},
                {"name": "phr_staff_pulse", "help": "h", "value": 5.0, "service": "gateway",
                 "labels": {"department": "cardiology", "question": "workload", "answer": "heavy"}},
                {"name": "phr_reports_open", "help": "Reports not closed", "value": 3.0,
                 "labels": {"kind": "wrong-item"}, "service": "exchange"}]
    charts = {c.id: c for c in in_request(lambda: dashboard.people_charts(measures, {"cardiology": "Cardiology"}.get))}
    assert [(r.label, r.shown) for r in charts["phr-correction-requests-open"].rows] == [("Cardiology", "2")]
    assert [r.label for r in charts["phr-staff-pulse"].rows] == ["Cardiology, How is your workload today?, Heavy"]
    assert [(r.label, r.value) for r in charts["phr-denials-explained-ratio"].rows] == [("not measured here", None)]
    assert charts["phr-reports-open"].title == "Reports not closed"  # a measure the page does not know yet


def test_machine_measures_are_read_per_service_and_missing_ones_are_not_measured_here():
    metrics = {"consent": "# TYPE phr_outbox_pending_events gauge\nphr_outbox_pending_events{service=\"consent\"} 4.0\n",
               "records": None}
    charts = {c.id: c for c in in_request(lambda: dashboard.machine_charts(metrics))}
    assert [(r.label, r.shown) for r in charts["phr-outbox-pending-events"].rows] == [
        ("consent", "4"), ("records: not measured here", "not measured here")]


def test_the_grade_histogram_becomes_counts_per_grade():
    text = ("# TYPE phr_patient_text_grade histogram\n"
            'phr_patient_text_grade_bucket{language="en",le="8.0"} 2.0\n'
            'phr_patient_text_grade_bucket{language="en",le="10.0"} 3.0\n'
            'phr_patient_text_grade_bucket{language="en",le="+Inf"} 3.0\n'
            'phr_patient_text_grade_count{language="en"} 3.0\nphr_patient_text_grade_sum{language="en"} 20.0\n')
    chart = in_request(lambda: dashboard.grade_chart({"records": text, "exchange": text}))
    assert [(r.label, r.shown) for r in chart.rows] == [
        ("en, grade 8 or below", "4"), ("en, above grade 8 up to 10", "2"), ("en, above grade 10", "0")]
