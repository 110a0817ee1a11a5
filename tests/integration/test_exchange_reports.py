"""Reports at the exchange service, on SQLite and PostgreSQL: a patient's or caregiver's report goes
to the quality staff of the patient's custodian, a member of staff's to their department's; an
anonymous staff report keeps no person and its department only in a department of 5 or more;
quality staff triage with If-Match; a linked correction request's answer closes the report with
the outcome in the reporter's language and tells the patient."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from contracts.events import problems
from contracts.vocabulary import ROLE_SCOPES
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import outbox, processed_events, reports
from services.exchange.service_layer.handlers import HANDLERS
from services.exchange.service_layer.reports import STAFF_HANDLERS
from tests.support.apps import Clock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
PATIENT, OTHER = "p-1", "p-2"  # primary care holds p-1's records, cardiology p-2's
REPORT_SCOPE = "patient/*.rs patient/Report.c"
WRONG_ITEM = {"kind": "wrong-information", "text": "This allergy is not mine. I never took penicillin.",
              "about": {"resource_type": "AllergyIntolerance", "id": "a-1"}}


@pytest.fixture
def world(exchange):
    """The exchange's client and service on a clock the test moves, the patient index filled."""
    service = exchange.service
    service.flow.clock = clock = Clock()
    clock.now = T0
    index = IdempotentConsumer("exchange.records-index", exchange.engine, processed_events, HANDLERS, Letters())
    for patient, custodian in ((PATIENT, "primary-care"), (OTHER, "cardiology")):
        _feed(index, "phr.records.v1", new_event("phr.records.imported", "/services/records", patient, {
            "patient": patient, "custodian": custodian, "resource_count": 3,
            "resource_types": {"Observation": 3}, "imported_at": T0.isoformat()}))
    return exchange.client, service, clock, index


def _feed(consumer, topic, event):
    assert consumer.handle(topic, json.dumps(event).encode()) == "applied"


def _patient(mint, patient=PATIENT, **claims):
    return mint.patient(patient, scope=REPORT_SCOPE, sub=f"acct-{patient}", **claims)


def _staff(mint, dept="cardiology", roles=("clinician",), staff_id="n-1"):
    """A staff token as the console's: every member of staff reports (user/Report.cr), and the
    scopes of their ROLES (gateway/authz/departments.py)."""
    scope = " ".join(["user/Report.cr", *(ROLE_SCOPES[r] for r in roles)])
    return mint.staff(dept=dept, roles=roles, staff_id=staff_id, scope=scope)


def _quality(mint, dept="primary-care", staff_id="q-1"):
    return _staff(mint, dept, ("quality",), staff_id)


def _events(engine, kind=None):
    with engine.connect() as conn:
        found = [json.loads(r.payload) for r in conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.seq))]
    return [e for e in found if kind is None or e["type"] == kind]


def _rows(engine):
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(reports))]


def _filed(client, headers, body=WRONG_ITEM, path="/patient/v1/reports"):
    resp = client.post(path, json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_patients_report_is_acknowledged_with_a_reference_and_goes_to_the_custodians_quality_queue(world, mint):
    client, service, _clock, _index = world
    body = _filed(client, _patient(mint))
    assert re.fullmatch(r"R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", body["reference"])
    assert body["status"] == {"code": "received", "text": "Received"}
    assert body["reference"] in body["acknowledgement"]["message"]
    assert "My reports" in body["acknowledgement"]["next_step"]
    queue = client.get("/staff/v1/reports", headers=_quality(mint)).get_json()["items"]
    assert [i["id"] for i in queue] == [body["id"]]
    assert queue[0]["reporter"] == {"kind": "patient", "patient": PATIENT}
    assert queue[0]["department"]["department"] == "primary-care" and queue[0]["comment"] == WRONG_ITEM["text"]
    for other in (_quality(mint, dept="cardiology"),):
        assert client.get("/staff/v1/reports", headers=other).get_json()["items"] == []
        assert client.get(f"/staff/v1/reports/{body['id']}", headers=other).status_code == 404
    [event] = _events(service.engine, "phr.feedback.reported")
    assert problems(event) == [] and event["subject"] == PATIENT
    assert event["data"]["department"] == "primary-care" and "text" not in event["data"]


def test_the_acknowledgement_is_in_the_patients_language(world, mint):
    client, _service, _clock, _index = world
    body = _filed(client, _patient(mint, locale="es"))
    assert body["language"]["used"] == "es" and body["status"]["text"] == "Recibido"
    assert body["acknowledgement"]["title"] == "Gracias. Recibimos su reporte."


def test_a_caregiver_reports_for_the_patient_and_is_kept_as_the_one_acting(world, mint):
    client, service, _clock, _index = world
    _filed(client, _patient(mint, act={"sub": "proxy-7"}))
    [row] = _rows(service.engine)
    assert (row["reporter_kind"], row["patient"], row["acting"]) == ("caregiver", PATIENT, "proxy-7")


def test_a_patient_reads_only_their_own_reports(world, mint):
    client, _service, _clock, _index = world
    mine = _filed(client, _patient(mint))
    theirs = _filed(client, _patient(mint, OTHER))
    listed = client.get("/patient/v1/reports", headers=_patient(mint)).get_json()["items"]
    assert [i["id"] for i in listed] == [mine["id"]]
    assert client.get(f"/patient/v1/reports/{mine['id']}", headers=_patient(mint)).status_code == 200
    other = client.get(f"/patient/v1/reports/{theirs['id']}", headers=_patient(mint))
    assert other.status_code == 404 and other.content_type.startswith("application/problem+json")


@pytest.mark.parametrize("body, field", [
    ({**WRONG_ITEM, "anonymous": True}, "anonymous"),
    ({"kind": "safety", "text": "A near miss."}, "kind"),
    ({"kind": "made-up", "text": "Hello"}, "kind"),
    ({"kind": "wrong-information", "text": "Wrong."}, "about"),
    ({"kind": "hard-to-understand", "text": "Hard.", "about": {"page": "/portal/records"}}, "about"),
    ({**WRONG_ITEM, "text": "x" * 2001}, "text"),
    ({**WRONG_ITEM, "text": ""}, "text"),
    ({**WRONG_ITEM, "about": {"resource_type": "Nonsense", "id": "a-1"}}, "about"),
])
def test_a_patients_report_that_breaks_the_rules_is_a_422_naming_the_field_and_stores_nothing(world, mint, body,
                                                                                              field):
    client, service, _clock, _index = world
    resp = client.post("/patient/v1/reports", json=body, headers=_patient(mint))
    assert resp.status_code == 422, resp.get_json()
    assert resp.content_type.startswith("application/problem+json") and field in resp.get_json()["fields"]
    assert _rows(service.engine) == [] and _events(service.engine) == []


def test_a_malformed_or_oversized_body_and_a_missing_scope_are_refused_and_store_nothing(world, mint):
    client, service, _clock, _index = world
    headers = _patient(mint)
    broken = client.post("/patient/v1/reports", data="{not json",
                         headers={**headers, "Content-Type": "application/json"})
    assert 400 <= broken.status_code < 500 and broken.content_type.startswith("application/problem+json")
    huge = client.post("/patient/v1/reports", json={**WRONG_ITEM, "text": "x" * 300_000}, headers=headers)
    assert huge.status_code == 413
    no_scope = client.post("/patient/v1/reports", json=WRONG_ITEM, headers=mint.patient(PATIENT))
    assert no_scope.status_code == 403
    no_patient = client.post("/patient/v1/reports", json=WRONG_ITEM, headers=mint.patient(None, scope=REPORT_SCOPE))
    assert no_patient.status_code == 403
    staff = client.post("/patient/v1/reports", json=WRONG_ITEM, headers=mint.staff())
    assert staff.status_code == 403
    assert _rows(service.engine) == []


def test_a_named_staff_report_is_followed_by_its_reporter_and_triaged_by_their_departments_quality(world, mint):
    client, _service, _clock, _index = world
    nurse = _staff(mint, "cardiology", staff_id="n-1")
    body = _filed(client, nurse, {"kind": "safety", "text": "Two patients with the same name in one room."},
                  "/staff/v1/reports")
    mine = client.get("/staff/v1/reports/mine", headers=nurse).get_json()["items"]
    assert [i["id"] for i in mine] == [body["id"]]
    other = _staff(mint, "cardiology", staff_id="n-2")
    assert client.get("/staff/v1/reports/mine", headers=other).get_json()["items"] == []
    # a named report is followed under /mine only: its reference passed on shows nothing
    assert client.get(f"/staff/v1/reports/follow/{body['reference']}", headers=nurse).status_code == 404
    queue = client.get("/staff/v1/reports", headers=_quality(mint, dept="cardiology")).get_json()["items"]
    assert queue[0]["reporter"] == {"kind": "staff", "staff": {"sub": "n-1", "fhirUser": "Practitioner/n-1"},
                                    "department": "cardiology"}
    assert client.get("/staff/v1/reports", headers=_quality(mint)).get_json()["items"] == []


def _staff_joined(engine, department, how_many, staff_id=None, roles=("clinician",)):
    """HOW_MANY staff activated in DEPARTMENT with ROLES, as the gateway's events say (their ids
    STAFF_ID(n), else <department>-<n>); return the staff consumer."""
    staff = IdempotentConsumer("exchange.staff", engine, processed_events, STAFF_HANDLERS, Letters())
    for n in range(how_many):
        sub = staff_id(n) if staff_id else f"{department}-{n}"
        _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-activated", "/gateway", department, {
            "department": department, "staff_id": sub, "practitioner": sub,
            "roles": list(roles), "invite_id": f"i-{sub}", "activated_at": T0.isoformat()}))
    return staff


def test_an_anonymous_staff_report_keeps_no_identity_and_no_department_under_five_staff(world, mint):
    client, service, _clock, _index = world
    _staff_joined(service.engine, "emergency", 4)
    nurse = _staff(mint, "emergency", staff_id="n-9")
    body = _filed(client, nurse, {"kind": "safety", "text": "A near miss with a drip.", "anonymous": True},
                  "/staff/v1/reports")
    assert "We did not keep your name" in body["acknowledgement"]["next_step"]
    [row] = _rows(service.engine)
    assert {k: row[k] for k in ("reporter_kind", "patient", "acting", "staff", "staff_user", "staff_department",
                                "department")} == {
        "reporter_kind": "anonymous-staff", "patient": None, "acting": None, "staff": None, "staff_user": None,
        "staff_department": None, "department": None}
    assert "n-9" not in json.dumps(row, default=str)
    [event] = _events(service.engine, "phr.feedback.reported")
    assert event["data"]["reporter"] == {"kind": "anonymous-staff"} and event["data"]["department"] is None
    assert "n-9" not in json.dumps(event) and event["subject"] == row["id"] and problems(event) == []
    assert client.get("/staff/v1/reports/mine", headers=nurse).get_json()["items"] == []
    spoken = body["reference"].lower().replace("-", " ").replace("0", "o")  # as a person types it back
    followed = client.get(f"/staff/v1/reports/follow/{spoken}", headers=nurse)
    assert followed.status_code == 200 and followed.get_json()["status"]["code"] == "received"
    assert "comment" not in followed.get_json()
    # no department shown: every department's quality staff see it, none learns where it came from
    for dept in ("emergency", "cardiology"):
        [seen] = client.get("/staff/v1/reports", headers=_quality(mint, dept=dept)).get_json()["items"]
        assert seen["department"] is None and seen["reporter"] == {"kind": "anonymous-staff"}


def _traceparents(engine) -> dict[str, str]:
    """Each queued event's traceparent, by the report it is about."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.payload, outbox.c.traceparent)).all()
    return {json.loads(payload)["data"]["report_id"]: traceparent for payload, traceparent in rows}


def test_an_anonymous_staff_report_keeps_only_its_day_and_its_event_starts_a_trace_of_its_own(world, mint):
    client, service, _clock, _index = world
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    asked = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    named = _filed(client, {**_staff(mint, staff_id="n-1"), **asked},
                   {"kind": "system-problem", "text": "Slow.", "anonymous": False}, "/staff/v1/reports")
    hidden = _filed(client, {**_staff(mint, staff_id="n-9"), **asked},
                    {"kind": "safety", "text": "A near miss with a drip.", "anonymous": True}, "/staff/v1/reports")
    day = T0.replace(hour=0)
    rows = {r["id"]: r for r in _rows(service.engine)}
    kept = rows[hidden["id"]]
    assert (_utc(kept["received_at"]), _utc(kept["updated_at"])) == (day, day)
    assert _utc(rows[named["id"]]["received_at"]) == T0  # a named report keeps its time
    [event] = [e for e in _events(service.engine, "phr.feedback.reported") if e["data"]["report_id"] == hidden["id"]]
    assert event["data"]["received_at"] == day.isoformat()
    assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")) == day
    traces = _traceparents(service.engine)
    assert traces[named["id"]].split("-")[1] == trace_id  # the request's trace goes on, as for every event
    assert traces[hidden["id"]].split("-")[1] != trace_id


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def test_an_anonymous_staff_report_keeps_its_department_once_five_staff_belong_to_it(world, mint):
    client, service, _clock, _index = world
    _staff_joined(service.engine, "emergency", 5)
    _filed(client, _staff(mint, "emergency", staff_id="n-9"),
           {"kind": "system-problem", "text": "The exchange keeps failing.", "anonymous": True}, "/staff/v1/reports")
    [row] = _rows(service.engine)
    assert row["department"] == "emergency" and row["staff"] is None and row["staff_department"] is None
    assert client.get("/staff/v1/reports", headers=_quality(mint, dept="cardiology")).get_json()["items"] == []


def test_a_disabled_member_of_staff_no_longer_counts(world, mint):
    client, service, _clock, _index = world
    staff = _staff_joined(service.engine, "emergency", 5)
    _feed(staff, "phr.accounts.v1", new_event("phr.accounts.staff-disabled", "/gateway", "emergency", {
        "department": "emergency", "staff_id": "emergency-0", "disabled_by": "phr-admin",
        "disabled_at": T0.isoformat()}))
    _filed(client, _staff(mint, "emergency", staff_id="n-9"),
           {"kind": "system-problem", "text": "Slow.", "anonymous": True}, "/staff/v1/reports")
    assert _rows(service.engine)[0]["department"] is None


def _triage(client, mint, report_id, body, headers=None, etag=None):
    headers = headers or _quality(mint)
    if etag is None:
        etag = client.get(f"/staff/v1/reports/{report_id}", headers=headers).headers.get("ETag")
    return client.post(f"/staff/v1/reports/{report_id}", json=body,
                       headers={**headers, **({"If-Match": etag} if etag else {})})


def test_triage_needs_if_match_refuses_a_lost_update_and_moves_forward_only(world, mint):
    client, service, clock, _index = world
    _staff_joined(service.engine, "primary-care", 1, staff_id=lambda n: "q-1", roles=["quality"])
    report = _filed(client, _patient(mint))
    first = client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint))
    assert first.headers["ETag"] == 'W/"1"'
    missing = client.post(f"/staff/v1/reports/{report['id']}", json={"status": "looking-into-it"},
                          headers=_quality(mint))
    assert missing.status_code == 428
    clock.now = T0 + timedelta(hours=2)
    moved = _triage(client, mint, report["id"], {"status": "looking-into-it", "note": "We are checking it.",
                                                 "assignee": {"sub": "q-1", "fhirUser": "Practitioner/q-1"}},
                    etag='W/"1"')
    assert moved.status_code == 200 and moved.headers["ETag"] == 'W/"2"'
    assert moved.get_json()["acknowledged_at"] == clock.now.isoformat()
    stale = _triage(client, mint, report["id"], {"status": "acted-on"}, etag='W/"1"',
                    headers=_quality(mint, staff_id="q-2"))
    assert stale.status_code == 412
    back = _triage(client, mint, report["id"], {"status": "received"})
    assert back.status_code == 422 and back.get_json()["fields"] == ["status"]
    assert _triage(client, mint, report["id"], {}).status_code == 422
    [updated] = _events(service.engine, "phr.feedback.updated")
    assert updated["data"]["changed"] == ["status", "note", "assignee"] and problems(updated) == []
    seen = client.get(f"/patient/v1/reports/{report['id']}", headers=_patient(mint)).get_json()
    assert seen["status"] == {"code": "looking-into-it", "text": "Looking into it"}
    assert seen["note"] == "We are checking it."


def test_only_the_departments_quality_staff_may_triage(world, mint):
    client, service, _clock, _index = world
    report = _filed(client, _patient(mint))
    url = f"/staff/v1/reports/{report['id']}"
    for who in (_staff(mint, "primary-care"), _staff(mint, "primary-care", ("privacy-officer",)),
                mint.staff(dept="primary-care", roles=("quality",), scope="user/*.cruds"), _patient(mint)):
        assert client.get(url, headers=who).status_code == 403
        assert client.get("/staff/v1/reports", headers=who).status_code == 403
        assert client.post(url, json={"status": "closed"}, headers={**who, "If-Match": 'W/"1"'}).status_code == 403
    other = _quality(mint, dept="cardiology")
    assert client.post(url, json={"status": "closed"}, headers={**other, "If-Match": 'W/"1"'}).status_code == 404
    assert _events(service.engine, "phr.feedback.updated") == []


def _correction(index, task, patient=PATIENT, custodian="primary-care"):
    _feed(index, "phr.records.v1", new_event("phr.records.amendment-requested", "/services/records", patient, {
        "patient": patient, "custodian": custodian, "task": task, "record": "AllergyIntolerance/a-1",
        "requested_at": T0.isoformat()}))


def test_a_link_to_another_departments_or_patients_correction_request_is_refused(world, mint):
    client, _service, _clock, index = world
    report = _filed(client, _patient(mint))
    _correction(index, "Task/t-cardio", patient=OTHER, custodian="cardiology")
    _correction(index, "Task/t-other", patient=OTHER, custodian="primary-care")
    for task in ("Task/t-cardio", "Task/t-other", "Task/t-unknown"):
        resp = _triage(client, mint, report["id"], {"links": {"correction_request": task}})
        assert resp.status_code == 422 and resp.get_json()["fields"] == ["links.correction_request"], task
    bad = _triage(client, mint, report["id"], {"links": {"correction_request": "not-a-task"}})
    assert bad.status_code == 422


def test_an_answered_correction_request_closes_the_linked_report_in_the_reporters_language(world, mint):
    client, service, clock, index = world
    report = _filed(client, _patient(mint, locale="es"))
    _correction(index, "Task/t-1")
    linked = _triage(client, mint, report["id"], {"status": "acted-on", "links": {"correction_request": "Task/t-1"}})
    assert linked.status_code == 200 and linked.get_json()["links"]["correction_request"] == "Task/t-1"
    _feed(index, "phr.records.v1", new_event("phr.records.amendment-updated", "/services/records", PATIENT, {
        "patient": PATIENT, "custodian": "primary-care", "task": "Task/t-1", "record": "AllergyIntolerance/a-1",
        "status": "completed", "previous_status": "requested", "updated_at": T0.isoformat()}))
    seen = client.get(f"/patient/v1/reports/{report['id']}", headers=_patient(mint, locale="es")).get_json()
    assert seen["status"] == {"code": "closed", "text": "Cerrado"}
    assert seen["note"] == "El equipo corrigió su expediente. Gracias por decírnoslo."
    [closed] = _events(service.engine, "phr.feedback.closed")
    assert closed["data"]["correction_outcome"] == "completed" and closed["data"]["closed_by"] is None
    assert problems(closed) == []
    notes = client.get("/patient/v1/notifications", headers=_patient(mint, locale="es")).get_json()["items"]
    assert [n["kind"] for n in notes if n["kind"] == "report-closed"] == ["report-closed"]
    again = _triage(client, mint, report["id"], {"status": "acted-on"})
    assert again.status_code == 409


def test_quality_closes_a_report_and_the_patient_is_told(world, mint):
    client, service, _clock, _index = world
    report = _filed(client, _patient(mint))
    done = _triage(client, mint, report["id"], {"status": "closed", "note": "We fixed the wording."})
    assert done.status_code == 200 and done.get_json()["closed_at"]
    [closed] = _events(service.engine, "phr.feedback.closed")
    assert closed["data"]["closed_by"] == {"sub": "q-1", "fhirUser": "Practitioner/q-1"}
    notes = client.get("/patient/v1/notifications", headers=_patient(mint)).get_json()["items"]
    assert [n["message"] for n in notes if n["kind"] == "report-closed"] == [
        f"We closed your report {report['reference']}. See what we did under My reports."]


def test_the_queue_is_filtered_by_kind_and_status_and_paged_oldest_first(world, mint):
    client, _service, clock, _index = world
    ids = []
    for n in range(3):
        clock.now = T0 + timedelta(minutes=n)
        ids.append(_filed(client, _patient(mint), {"kind": "system-problem", "text": f"Slow page {n}."})["id"])
    _filed(client, _patient(mint))
    q = _quality(mint)
    two = client.get("/staff/v1/reports?kind=system-problem&limit=2", headers=q).get_json()
    rest = client.get(f"/staff/v1/reports?kind=system-problem&limit=2&cursor={two['next']}", headers=q).get_json()
    assert [i["id"] for i in two["items"] + rest["items"]] == ids and rest["next"] is None
    assert client.get("/staff/v1/reports?kind=nonsense", headers=q).status_code == 422
    assert client.get("/staff/v1/reports?status=received&limit=500", headers=q).status_code == 422


def test_metrics_show_the_reports_measures(world, mint):
    client, _service, clock, _index = world
    report = _filed(client, _patient(mint))
    # an anonymous report keeps only its day: its 8 hours since midnight are no one's wait
    hidden = _filed(client, _staff(mint, staff_id="n-9"), {"kind": "safety", "text": "A near miss.",
                                                            "anonymous": True}, "/staff/v1/reports")
    clock.now = T0 + timedelta(seconds=90)
    assert _triage(client, mint, report["id"], {"status": "looking-into-it"}).status_code == 200
    assert _triage(client, mint, hidden["id"], {"status": "looking-into-it"}).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'phr_reports_open{kind="wrong-information"} 1.0' in text
    assert 'phr_reports_open{kind="safety"} 1.0' in text
    assert 'phr_reports_acknowledge_seconds{quantile="0.5"} 90.0' in text
    assert 'phr_reports_acknowledge_seconds{quantile="0.9"} 90.0' in text
    assert 'phr_reports_close_days{quantile="0.9"} 0.0' in text


def _answered(index, task, patient=PATIENT, custodian="primary-care", status="rejected"):
    _feed(index, "phr.records.v1", new_event("phr.records.amendment-updated", "/services/records", patient, {
        "patient": patient, "custodian": custodian, "task": task, "record": "AllergyIntolerance/a-1",
        "status": status, "previous_status": "requested", "updated_at": T0.isoformat()}))


def test_a_patient_files_the_report_with_their_correction_request_and_only_its_answer_closes_it(world, mint):
    client, _service, _clock, index = world
    mine = _filed(client, _patient(mint), {**WRONG_ITEM, "correction_request": "Task/t-mine"})
    # another patient naming the same Task id gains nothing: the answer names its own patient
    theirs = _filed(client, _patient(mint, OTHER), {**WRONG_ITEM, "correction_request": "Task/t-mine"})
    _answered(index, "Task/t-mine")
    closed = client.get(f"/patient/v1/reports/{mine['id']}", headers=_patient(mint)).get_json()
    assert closed["status"]["code"] == "closed"
    assert closed["note"] == "The team looked at your record and did not change it. You can tell them why you disagree."
    still = client.get(f"/patient/v1/reports/{theirs['id']}", headers=_patient(mint, OTHER)).get_json()
    assert still["status"]["code"] == "received"


def test_a_report_on_a_patient_not_yet_indexed_waits_unseen_until_the_first_import_names_the_custodian(world,
                                                                                                       mint):
    client, _service, _clock, index = world
    report = _filed(client, _patient(mint, "p-new"))
    for dept in ("primary-care", "cardiology"):
        assert client.get("/staff/v1/reports", headers=_quality(mint, dept=dept)).get_json()["items"] == []
        assert client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint, dept=dept)).status_code == 404
    _feed(index, "phr.records.v1", new_event("phr.records.imported", "/services/records", "p-new", {
        "patient": "p-new", "custodian": "cardiology", "resource_count": 1,
        "resource_types": {"Observation": 1}, "imported_at": T0.isoformat()}))
    assert client.get(f"/staff/v1/reports/{report['id']}", headers=_quality(mint, dept="cardiology")).status_code == 200
    assert client.get("/staff/v1/reports", headers=_quality(mint)).get_json()["items"] == []
