"""A request's trace through a real service (consent, on SQLite and PostgreSQL, real tokens): into the
event it causes, through its fast path, and never a patient id in what it logs at INFO."""
import logging
import os

import sqlalchemy as sa

from services.common.observability import TraceIds
from services.consent.adapters.tables import outbox
from tests.support.consent import count_decisions, department, grant, patient

PATIENT = "pat-trace-7"


def _caller() -> tuple[str, str]:
    trace_id = os.urandom(16).hex()
    return f"00-{trace_id}-{os.urandom(8).hex()}-01", trace_id


def test_the_event_a_request_causes_carries_that_requests_trace(consent, mint):
    client, engine = consent
    caller, trace_id = _caller()
    resp = grant(client, {**patient(mint, PATIENT), "traceparent": caller})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(outbox.c.traceparent).order_by(outbox.c.seq.desc())).scalars().first()
    version, stored_trace, parent, _flags = stored.split("-")
    assert (version, stored_trace) == ("00", trace_id)
    assert parent != caller.split("-")[2]  # the service's own span, child of the caller's


def test_a_decision_answered_by_the_fast_path_is_traced_and_logged_by_its_route(consent, mint, caplog):
    client, app = consent.client, consent.app
    caller, trace_id = _caller()
    grant(client, patient(mint, PATIENT))
    calls = count_decisions(app)
    caplog.handler.addFilter(TraceIds())  # what the process's log handler adds (observability.py)
    with caplog.at_level(logging.INFO, logger="phr.access"):
        resp = client.post("/consent/v1/decisions", headers={**department(mint), "traceparent": caller}, json={
            "patient": PATIENT, "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]})
    assert resp.status_code == 200 and calls == []  # the fast path answered, not the Flask view
    (line,) = [r for r in caplog.records if r.name == "phr.access"]
    assert (line.http_method, line.route, line.status) == ("POST", "/consent/v1/decisions", 200)
    assert line.trace_id == trace_id


def test_no_line_at_info_or_above_holds_the_patient_id(consent, mint, caplog):
    client, _ = consent
    with caplog.at_level(logging.DEBUG):
        made = grant(client, patient(mint, PATIENT)).get_json()
        client.get(f"/patient/v1/consents/{made['id']}", headers=patient(mint, PATIENT))
        client.post("/consent/v1/decisions", headers=department(mint), json={
            "patient": PATIENT, "actor": "cardiology", "purpose": "TREAT", "classes": ["Observation"]})
        client.get(f"/fhir/Consent?patient={PATIENT}", headers=department(mint))
        client.delete(f"/patient/v1/consents/{made['id']}", headers=patient(mint, PATIENT))
    said = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(said) >= 5  # one access line per request at least: the check below has lines to read
    assert not [r.getMessage() for r in said if PATIENT in r.getMessage() or PATIENT in str(r.__dict__)]
