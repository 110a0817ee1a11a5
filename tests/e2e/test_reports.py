"""Reports through the running stack on SQLite and PostgreSQL with the real broker, each person
signed in as the portal and the console sign them in:

- a Spanish-speaking patient reports a wrong item; the custodian's quality team links it to the
  patient's correction request; the records officer accepts the request; the patient sees the
  report closed with the outcome in Spanish, and is told;
- an anonymous staff report keeps no identity, in the exchange's database and in the event the
  broker carries, and a department of fewer than 5 staff is not shown; one of 5 is.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

import sqlalchemy as sa

from services.common import kafka
from services.common.db import make_engine
from services.common.i18n import translate
from services.exchange.service_layer.reports import CORRECTION_NOTES
from tests.e2e.test_staff_review_loops import CUSTODIAN, Api, _new_patient, _until
from tests.support.staff import join_over_http

PATIENT_SCOPE = ("openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Task.c "
                 "patient/Report.c")


def _patient_api(stack, who: dict, lang: str) -> Api:
    from tests.support.client import patient_login
    portal = stack.credentials()["portal"]
    token = patient_login(stack.gateway, portal["client_id"], portal["redirect_uri"], who["username"],
                          who["password"], scope=PATIENT_SCOPE)
    return Api(stack.gateway, {"Authorization": f"Bearer {token['access_token']}", "Accept-Language": lang})


def _row(stack, report_id: str) -> dict:
    engine = make_engine(stack.database_url("exchange"))
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM reports WHERE id = :id"), {"id": report_id}).mappings().first()
            return dict(row) if row else {}
    finally:
        engine.dispose()


def _outbox_time(stack, event_id: str) -> datetime:
    """The time the exchange's outbox row of EVENT_ID keeps (UTC)."""
    engine = make_engine(stack.database_url("exchange"))
    try:
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT created_at FROM outbox WHERE event_id = :id"),
                                {"id": event_id}).scalar_one()
    finally:
        engine.dispose()
    return kept if isinstance(kept, datetime) else datetime.fromisoformat(kept)


def _published(stack, report_id: str) -> list[dict]:
    """The phr.feedback.v1 events about REPORT_ID as the broker carries them (read from the start),
    each with the traceparent header of its message under ``_traceparent`` and its Kafka
    timestamp under ``_timestamp_ms``."""
    consumer = kafka.consumer(stack.bootstrap, f"e2e-reports-{uuid.uuid4()}", ["phr.feedback.v1"])
    try:
        def read():
            found = []
            for records in consumer.poll(timeout_ms=1000).values():
                found += [{**json.loads(r.value),
                           "_traceparent": dict(r.headers or []).get("traceparent", b"").decode(),
                           "_timestamp_ms": r.timestamp}
                          for r in records]
            return [e for e in found if e["data"]["report_id"] == report_id]
        return _until(read, timeout=60, what=f"the events of report {report_id} on the broker")
    finally:
        consumer.close()


def test_a_wrong_item_becomes_a_correction_request_and_its_acceptance_closes_the_report_in_spanish(stack):
    who = _new_patient(stack, "Antonio_Castellanos")
    me = _patient_api(stack, who, "es")
    quality = Api(stack.gateway, join_over_http(stack, "rep.quality", ["quality"], "Quim Quality", CUSTODIAN)
                  .headers("en"))
    officer = Api(stack.gateway, join_over_http(stack, "rep.records", ["records-officer"], "Rita Records",
                                                CUSTODIAN).headers("en"))
    item = me.get("/patient/v1/records", params={"category": "conditions"}).json()["items"][0]
    filed = me.post("/patient/v1/reports", json={
        "kind": "wrong-information", "text": "Nunca tuve esta enfermedad.",
        "about": {"resource_type": item["reference"].split("/")[0], "id": item["id"]}})
    assert filed.status_code == 201, filed.text
    report = filed.json()
    assert report["acknowledgement"]["title"] == "Gracias. Recibimos su reporte."
    assert report["reference"] in report["acknowledgement"]["message"]

    queued = _until(lambda: [i for i in quality.get("/staff/v1/reports").json()["items"] if i["id"] == report["id"]],
                    what="the report in the custodian's quality queue")
    assert queued[0]["department"]["department"] == CUSTODIAN
    asked = me.post("/patient/v1/amendments", json={"record_id": item["id"], "what_is_wrong": "No es mía.",
                                                    "correction": "Quítenla, por favor."})
    assert asked.status_code == 201, asked.text
    task = asked.json()["id"]

    def link():  # the exchange hears of the correction request from records' event
        current = quality.get(f"/staff/v1/reports/{report['id']}")
        resp = quality.post(f"/staff/v1/reports/{report['id']}", headers={"If-Match": current.headers["ETag"]},
                            json={"status": "acted-on", "note": "Pedimos a la clínica que lo revise.",
                                  "links": {"correction_request": f"Task/{task}"}})
        return resp if resp.status_code == 200 else None
    linked = _until(link, what="the report linked to the correction request").json()
    assert linked["links"]["correction_request"] == f"Task/{task}" and linked["status"]["code"] == "acted-on"

    accepted = officer.post(f"/staff/v1/corrections/{task}/accept", json={"action": "entered-in-error"})
    assert accepted.status_code == 200, accepted.text

    closed = _until(lambda: (lambda r: r if r["status"]["code"] == "closed" else None)(
        me.get(f"/patient/v1/reports/{report['id']}").json()), what="the report closed")
    assert closed["status"]["text"] == "Cerrado"
    assert closed["note"] == translate(CORRECTION_NOTES["completed"], "es") == \
        "El equipo corrigió su expediente. Gracias por decírnoslo."
    notices = _until(lambda: [n for n in me.get("/patient/v1/notifications").json()["items"]
                              if n["kind"] == "report-closed"], what="the patient told")
    assert notices[0]["message"] == f"Cerramos su reporte {report['reference']}. Vea lo que hicimos en Mis reportes."
    assert [i["status"]["code"] for i in me.get("/patient/v1/reports").json()["items"]] == ["closed"]
    events = _published(stack, report["id"])
    assert {e["type"] for e in events} >= {"phr.feedback.reported", "phr.feedback.updated", "phr.feedback.closed"}


IDENTITY_COLUMNS = ("patient", "acting", "staff", "staff_user", "staff_department")


def test_an_anonymous_staff_report_stores_no_identity_and_shows_a_department_only_of_five_or_more(stack):
    small = join_over_http(stack, "rs.anon", ["clinician"], "Rae Small", "research")
    nurse = Api(stack.gateway, small.headers("en"))
    trace_id = uuid.uuid4().hex
    sent = nurse.post("/staff/v1/reports", json={"kind": "safety", "text": "A near miss at the night handover.",
                                                 "anonymous": True},
                      headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"})
    assert sent.status_code == 201, sent.text
    report = sent.json()
    row = _until(lambda: _row(stack, report["id"]), what="the report's row")
    assert {k: row[k] for k in IDENTITY_COLUMNS} == dict.fromkeys(IDENTITY_COLUMNS)
    assert row["reporter_kind"] == "anonymous-staff" and row["department"] is None
    # only the day it came: its time could be matched with who was signed in just then
    for column in ("received_at", "updated_at"):
        kept = row[column] if isinstance(row[column], datetime) else datetime.fromisoformat(row[column])
        assert (kept.hour, kept.minute, kept.second, kept.microsecond) == (0, 0, 0, 0), (column, kept)
    sub = nurse.get("/staff/v1/reports/mine").json()  # a named list: the anonymous one is not in it
    assert sub["items"] == []
    [event] = [e for e in _published(stack, report["id"]) if e["type"] == "phr.feedback.reported"]
    assert event["data"]["reporter"] == {"kind": "anonymous-staff"} and event["data"]["department"] is None
    assert event["subject"] == report["id"]
    assert event["data"]["received_at"].endswith("T00:00:00+00:00") and event["time"].endswith("T00:00:00Z")
    # the message's Kafka timestamp and the outbox row say only the day too
    assert event.pop("_timestamp_ms") % 86_400_000 == 0
    queued = _outbox_time(stack, event["id"])
    assert (queued.hour, queued.minute, queued.second, queued.microsecond) == (0, 0, 0, 0), queued
    # a trace of its own: the request's trace (its logs, its gateway session) does not lead to it
    request_trace = sent.headers["traceresponse"].split("-")[1]  # the trace the gateway started
    traced = event.pop("_traceparent").split("-")
    assert len(traced) == 4 and len(traced[1]) == 32 and traced[1] not in (trace_id, request_trace)
    for secret in ("rs.anon", "Rae Small", "research"):
        assert secret not in json.dumps(event) and secret not in json.dumps(row, default=str)
    followed = nurse.get(f"/staff/v1/reports/follow/{report['reference']}")
    assert followed.status_code == 200 and followed.json()["status"]["code"] == "received"

    # a department of 5 staff (the exchange counts them from the gateway's account events)
    five = [join_over_http(stack, f"ov.{n}", ["clinician"], f"Oversight {n}", "oversight") for n in range(5)]
    shown = Api(stack.gateway, five[0].headers("en"))

    def counted():
        engine = make_engine(stack.database_url("exchange"))
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM staff_members WHERE department = 'oversight' "
                                            "AND active = :yes"), {"yes": True}).scalar() >= 5
        finally:
            engine.dispose()
    _until(counted, timeout=60, what="the exchange counting oversight's 5 staff")
    again = shown.post("/staff/v1/reports", json={"kind": "system-problem", "text": "The page is slow.",
                                                  "anonymous": True})
    assert again.status_code == 201, again.text
    kept = _row(stack, again.json()["id"])
    assert kept["department"] == "oversight" and {k: kept[k] for k in IDENTITY_COLUMNS} == dict.fromkeys(
        IDENTITY_COLUMNS)
