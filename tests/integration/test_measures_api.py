"""``GET /staff/v1/measures/{service}`` (services/common/measures_api.py) on SQLite and PostgreSQL:
the same values as the service's /metrics, the caller's own department's figures and the
whole-system ones only; refused without the scope, with a revoked token or on a malformed path."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


def test_a_privacy_officer_of_another_department_sees_only_theirs(records, mint):
    correction(records, 1, "cardiology")
    officer = mint.staff(dept="primary-care", roles=("privacy-officer",), staff_id="po-1")
    body = records.client.get("/staff/v1/measures/records", headers=officer).get_json()
    assert body["department"] == "primary-care"
    assert [m for m in body["measures"] if m["labels"].get("department")] == []


def test_a_clinician_without_the_scope_is_refused(records, mint):
    resp = records.client.get("/staff/v1/measures/records", headers=mint.staff(roles=("clinician",)))
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"


def test_a_token_without_a_department_is_refused(records, mint):
    headers = mint.staff(roles=("quality",), dept=None)
    resp = records.client.get("/staff/v1/measures/records", headers=headers)
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"


def test_a_revoked_token_is_refused(records, mint):
    headers = mint.staff(roles=("quality",))
    with revoked(records.client.application, headers):
        resp = records.client.get("/staff/v1/measures/records", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."


def test_a_malformed_path_or_another_services_name_is_not_found(records, mint):
    headers = mint.staff(roles=("quality",))
    for path in ("/staff/v1/measures/records/extra", "/staff/v1/measures/consent", "/staff/v1/measures/",
                 "/staff/v1/measures/records%00"):
        resp = records.client.get(path, headers=headers)
        assert resp.status_code == 404, path
