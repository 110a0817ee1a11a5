"""``GET /staff/v1/measures/{service}`` (services/common/measures_api.py) on SQLite and PostgreSQL:
the same values as the service's /metrics, the caller's own department's figures and the
whole-system ones only (at records, consent and the exchange alike); refused without the scope,
with a revoked token or on a malformed path."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from services.common import measures
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import processed_events
from services.exchange.service_layer.handlers import HANDLERS
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from services.records.adapters.repository import StoredResource
from tests.support.metrics import sample
from tests.support.tokens import revoked

NOW = datetime.now(timezone.utc)


def correction(records, n: int, custodian: str) -> None:
    body = {"resourceType": "Task", "id": f"t-{n}", "status": "requested", "intent": "order",
            "code": {"coding": [{"code": "change"}]}, "for": {"reference": "Patient/p-1"},
            "authoredOn": (NOW - timedelta(days=2)).isoformat(), "lastModified": NOW.isoformat()}
    with records.service.uow() as uow:
        uow.resources.add(StoredResource("Task", f"t-{n}", 1, NOW, "p-1", custodian, content=body))


def finished(records, n: int) -> None:
    body = {"resourceType": "Task", "id": f"t-{n}", "status": "completed", "intent": "order",
            "code": {"coding": [{"code": "change"}]}, "for": {"reference": "Patient/p-1"},
            "authoredOn": (NOW - timedelta(days=9)).isoformat(), "lastModified": NOW.isoformat()}
    with records.service.uow() as uow:
        uow.resources.add(StoredResource("Task", f"t-{n}", 1, NOW, "p-1", "primary-care", content=body))


def test_quality_staff_read_the_same_figures_as_metrics_for_their_department_and_the_whole_system(records, mint):
    client = records.client
    correction(records, 1, "cardiology")
    correction(records, 2, "primary-care")
    finished(records, 3)
    resp = client.get("/staff/v1/measures/records", headers=mint.staff(roles=("quality",), staff_id="q-1"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["service"] == "records" and body["department"] == "cardiology"
    shown = {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in body["measures"]}
    assert shown[("phr_correction_requests_open", (("department", "cardiology"),))] == 1.0
    assert not any(("department", "primary-care") in labels for _name, labels in shown)
    metrics = client.get("/metrics").get_data(as_text=True)
    for (name, labels), value in shown.items():
        assert sample(metrics, name, **dict(labels)) == value  # one computation, two views
    assert shown[("phr_correction_request_answer_days", (("quantile", "0.5"),))] == 9.0


def _feed(app, handlers, topic: str, event: dict) -> None:
    consumer = IdempotentConsumer("measures-test", app.engine, processed_events, handlers, Letters())
    assert consumer.handle(topic, json.dumps(event).encode()) == "applied"


def _claimed_at_cardiology(exchange) -> None:
    """A break-the-glass claim on a patient of cardiology's, not reviewed yet: the exchange's
    phr_break_glass_claims_open{department="cardiology"}."""
    _feed(exchange, HANDLERS, "phr.records.v1", new_event("phr.records.imported", "/services/records", "p-2", {
        "patient": "p-2", "custodian": "cardiology", "resource_count": 1,
        "resource_types": {"Observation": 1}, "imported_at": NOW.isoformat()}))
    claim = new_event("phr.consent.break-glass", "/services/consent", "p-2", {
        "grant_id": "g-1", "patient": "p-2", "department": "emergency", "purpose": "ETREAT",
        "reason": "Unconscious on arrival", "granted_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(hours=1)).isoformat(), "sensitive": [],
        "obligations": [{"type": "notify"}, {"type": "review"}]})
    _feed(exchange, NOTIFY_HANDLERS, "phr.consent.v1", claim)


def _cardiologys_figure(consent) -> None:
    """Consent counts no figure by department today (sharing requests are the whole system's):
    a provider standing for one, so that the route's filter is what the test reads."""
    measures.providers(consent.app).append(lambda: [
        measures.Measure("phr_sharing_requests", "Stand-in", 3.0, {"department": "cardiology", "state": "open"})])


#: service -> what puts a figure labelled with cardiology in its measures
CARDIOLOGYS = {"records": lambda app: correction(app, 1, "cardiology"),
               "consent": _cardiologys_figure,
               "exchange": _claimed_at_cardiology}


@pytest.fixture(params=sorted(CARDIOLOGYS))
def served(request, service_apps, database_url):
    """(a service's name, its app on the test's database), for each service."""
    return request.param, getattr(service_apps, request.param)(database_url)


def test_a_privacy_officer_of_another_department_sees_only_theirs(served, mint):
    service, app = served
    CARDIOLOGYS[service](app)
    path = f"/staff/v1/measures/{service}"
    cardiology = app.client.get(path, headers=mint.staff(dept="cardiology", roles=("quality",), staff_id="q-1"))
    assert cardiology.status_code == 200, cardiology.get_json()
    assert [m for m in cardiology.get_json()["measures"] if m["labels"].get("department") == "cardiology"]
    officer = mint.staff(dept="primary-care", roles=("privacy-officer",), staff_id="po-1")
    resp = app.client.get(path, headers=officer)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["service"] == service and body["department"] == "primary-care"
    assert [m for m in body["measures"] if m["labels"].get("department")] == []
    assert "cardiology" not in resp.get_data(as_text=True)


def test_a_clinician_without_the_scope_is_refused(records, mint):
    resp = records.client.get("/staff/v1/measures/records", headers=mint.staff(roles=("clinician",)))
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"


def test_a_token_without_a_department_is_refused(records, mint):
    headers = mint.staff(roles=("quality",), dept=None)
    resp = records.client.get("/staff/v1/measures/records", headers=headers)
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"


def test_a_revoked_token_is_refused(served, mint):
    (service, app), headers = served, mint.staff(roles=("quality",))
    path = f"/staff/v1/measures/{service}"
    assert app.client.get(path, headers=headers).status_code == 200  # the same token, until revoked
    with revoked(app.app, headers):
        resp = app.client.get(path, headers=headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
        assert resp.headers["Content-Type"] == "application/problem+json"


def test_a_malformed_path_or_another_services_name_is_not_found(records, mint):
    headers = mint.staff(roles=("quality",))
    for path in ("/staff/v1/measures/records/extra", "/staff/v1/measures/consent", "/staff/v1/measures/",
                 "/staff/v1/measures/records%00"):
        resp = records.client.get(path, headers=headers)
        assert resp.status_code == 404, path
