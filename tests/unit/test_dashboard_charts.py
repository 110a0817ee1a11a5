"""The dashboard's charts (gateway/portal/dashboard.py) from measures and /metrics texts: every
known measure has a chart, absent ones say "not measured here", and the grade histogram's
cumulative buckets become counts per grade."""
from __future__ import annotations

from flask import Flask

from gateway.portal import dashboard
from services.common import i18n


def in_request(fn, lang: str = "en"):
    app = Flask(__name__)
    i18n.install(app)
    with app.test_request_context(headers={"Accept-Language": lang}):
        return fn()


def test_every_known_measure_has_a_chart_and_an_absent_one_says_so():
    measures = [{"name": "phr_correction_requests_open", "help": "h", "value": 2.0,
                 "labels": {"department": "cardiology"}, "service": "records"},
                {"name": "phr_staff_pulse", "help": "h", "value": 5.0, "service": "gateway",
                 "labels": {"department": "cardiology", "question": "workload", "answer": "heavy"}},
                {"name": "phr_made_up_total", "help": "Something new", "value": 3.0,
                 "labels": {"kind": "x"}, "service": "exchange"}]
    charts = {c.id: c for c in in_request(lambda: dashboard.people_charts(measures, {"cardiology": "Cardiology"}.get))}
    assert [(r.label, r.shown) for r in charts["phr-correction-requests-open"].rows] == [("Cardiology", "2")]
    assert [r.label for r in charts["phr-staff-pulse"].rows] == ["Cardiology, How is your workload today?, Heavy"]
    assert [(r.label, r.value) for r in charts["phr-denials-explained-ratio"].rows] == [("not measured here", None)]
    assert charts["phr-made-up-total"].title == "Something new"  # a measure the page does not know yet


def test_the_report_measures_have_charts_of_their_own_with_each_kind_in_words_in_the_pages_language():
    measures = [{"name": "phr_reports_open", "help": "Reports not closed yet, by kind", "value": 3.0,
                 "labels": {"kind": "wrong-information"}, "service": "exchange"},
                {"name": "phr_reports_close_days", "help": "h", "value": 4.5, "labels": {"quantile": "0.5"},
                 "service": "exchange"}]
    charts = {c.id: c for c in in_request(lambda: dashboard.people_charts(measures), "es")}
    assert charts["phr-reports-open"].title == "Reportes aún no cerrados, por tipo"
    assert [(r.label, r.shown) for r in charts["phr-reports-open"].rows] == [("Información incorrecta en un expediente", "3")]
    assert [r.shown for r in charts["phr-reports-close-days"].rows] == ["4.50"]
    assert [r.value for r in charts["phr-reports-acknowledge-seconds"].rows] == [None]


DECISIONS = "# TYPE phr_decision_duration_seconds histogram\n" + "".join(
    f'phr_decision_duration_seconds_bucket{{le="{le}"}} {n}\n' for le, n in (
        ("0.005", 90.0), ("0.01", 95.0), ("0.1", 97.0), ("0.25", 98.0), ("1.0", 98.0), ("+Inf", 100.0))) + (
    "phr_decision_duration_seconds_count 100.0\nphr_decision_duration_seconds_sum 3.0\n")


def test_consent_decisions_are_counted_in_ranges_of_time_a_person_can_read():
    chart = in_request(lambda: dashboard.decision_chart({"consent": DECISIONS, "records": None}))
    assert [(r.label, r.shown) for r in chart.rows] == [
        ("within 10 ms", "95"), ("10 to 100 ms", "2"), ("100 to 250 ms", "1"), ("250 to 1000 ms", "0"),
        ("over 1000 ms", "2")]
    assert sum(r.value for r in chart.rows) == 100
    absent = in_request(lambda: dashboard.decision_chart({"consent": None}))
    assert [(r.label, r.value) for r in absent.rows] == [("not measured here", None)]


def test_requests_answered_with_an_error_are_shown_by_route_and_status():
    text = ("# TYPE http_requests_total counter\n"
            'http_requests_total{method="GET",route="/fhir/<kind>",service="records",status="200"} 50.0\n'
            'http_requests_total{method="GET",route="/fhir/<kind>",service="records",status="404"} 2.0\n'
            'http_requests_total{method="POST",route="/fhir/<kind>",service="records",status="404"} 1.0\n'
            'http_requests_total{method="POST",route="/consent",service="consent",status="500"} 0.0\n')
    chart = in_request(lambda: dashboard.errors_by_route_chart({"records": text, "consent": None}))
    assert [(r.label, r.shown) for r in chart.rows] == [("records: /fhir/<kind> 404", "3")]
    healthy = in_request(lambda: dashboard.errors_by_route_chart({"records": text.replace(" 2.0", " 0.0")
                                                                  .replace(" 1.0", " 0.0")}))
    assert [(r.label, r.value) for r in healthy.rows] == [("none", 0.0)]


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
