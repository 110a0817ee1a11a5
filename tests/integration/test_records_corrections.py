"""Correction requests answered by the custodian's records officer, and the patient's statement of
disagreement, through the records service on SQLite and PostgreSQL with minted tokens.

The demo patients are imported by primary care, so primary care's records officer answers
their requests; a records officer of cardiology never sees them.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.task import Task

from services.common import paging
from services.records.adapters.tables import outbox, resource_history, resources
from services.records.service_layer import handlers
from tests.support.fhir import demo_bundle

LIZ = "ee9f8dd8-72d2-4769-8020-89e504b1504b"
GUSTAVO = "cdf500b9-7cc4-424d-a86c-a18e6620d6e7"
PATIENT_SCOPE = "openid fhirUser patient/*.rs patient/Task.c patient/Observation.c"
OFFICER = "s-7"
BASE = "/staff/v1/corrections"


@pytest.fixture(autouse=True)
def two_patients(records, mint):
    for name in ("Liz_Conn", "Gustavo_Mejia"):
        assert records.client.post("/fhir", json=demo_bundle(name), headers=mint.department()).status_code == 200


def _patient(mint, patient=LIZ, **claims):
    return mint.patient(patient, scope=PATIENT_SCOPE, sub=f"acct-{patient[:6]}", fhirUser=f"Patient/{patient}",
                        **claims)


def _officer(mint, dept="primary-care", staff_id=OFFICER, **kw):
    return mint.staff(dept=dept, roles=("records-officer",), staff_id=staff_id, **kw)


def _ask(client, mint, patient=LIZ, category="conditions", index=0, **claims):
    """The patient asks to correct one of their records; return (the request, the record item)."""
    headers = _patient(mint, patient, **claims)
    record = client.get(f"/patient/v1/records?category={category}", headers=headers).get_json()["items"][index]
    resp = client.post("/patient/v1/amendments", headers=headers, json={
        "record_id": record["id"], "what_is_wrong": "I never had this.", "correction": "Please take it off."})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json(), record


def test_asking_to_correct_a_record_with_a_long_clinical_name_is_said_in_plain_words(records, mint):
    """Ned's "Body mass index 30+ - obesity (finding)" once made the summary read past grade 8,
    which the runtime contract check refuses (a 500 in enforce mode)."""
    ned = "616eaeb2-a67a-44e5-a7e6-9bbd85e47c5c"
    assert records.client.post("/fhir", json=demo_bundle("Ned_Hintz"), headers=mint.department()).status_code == 200
    for index in range(3):
        asked, record = _ask(records.client, mint, ned, index=index)
        assert record["title"] in asked["summary"]


def _state(engine) -> tuple:
    """Everything an answer may change: resources, their history and the outbox."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                     for t in (resources, resource_history, outbox)) + (
            tuple(conn.execute(sa.select(resources.c.resource_type, resources.c.id, resources.c.version_id)
                               .order_by(resources.c.resource_type, resources.c.id)).all()),)


def _events(engine, event_type):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.seq)).scalars().all()
    return [e for e in map(json.loads, rows) if e["type"] == event_type]


def _backdate(engine, task_id, days):
    """Make the request look asked DAYS ago (as if filed then)."""
    with engine.begin() as conn:
        content = json.loads(conn.execute(sa.select(resources.c.content).where(
            resources.c.resource_type == "Task", resources.c.id == task_id)).scalar_one())
        content["authoredOn"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
        conn.execute(resources.update().where(resources.c.resource_type == "Task", resources.c.id == task_id)
                     .values(content=json.dumps(content)))


def _fhir(client, mint, reference):
    resp = client.get(f"/fhir/{reference}", headers=mint.department())
    assert resp.status_code == 200, (reference, resp.get_data(as_text=True))
    return resp


# -- the worklist ---------------------------------------------------------------------------------

def test_the_worklist_shows_each_open_request_with_the_patients_words_and_its_due_date(records, mint):
    client, _ = records
    asked, record = _ask(client, mint)
    resp = client.get(BASE, headers=_officer(mint))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Language"] == "en" and resp.headers["Cache-Control"] == "no-store"
    [item] = resp.get_json()["items"]
    assert item["id"] == asked["id"] and item["state"] == "open"
    assert (item["what_is_wrong"], item["correction"]) == ("I never had this.", "Please take it off.")
    kind, rid = record["reference"].split("/")
    assert item["record"] == {"reference": record["reference"], "type": kind, "id": rid, "title": record["title"]}
    assert item["patient"] == {"id": LIZ, "name": item["patient"]["name"]} and item["patient"]["name"]
    today = datetime.now(timezone.utc).date()
    assert item["asked"]["iso"][:10] == today.isoformat()
    assert item["due"]["iso"] == (today + timedelta(days=60)).isoformat()
    assert item["days_left"] == 60 and item["overdue"] is False
    assert item["status"] == {"code": "open", "status_text": "Waiting for your answer"}
    assert [a["action"] for a in item["actions"]] == ["accept", "deny"]
    assert item["answer"] is None and item["disagreement"] is None and item["requested_by"] == "patient"
    one = client.get(f"{BASE}/{asked['id']}", headers=_officer(mint)).get_json()
    assert one["id"] == asked["id"] and "resource" not in item  # the list leaves the records out
    # the record as it stands, to amend from: the same as the custodian's FHIR read
    assert one["resource"] == _fhir(client, mint, record["reference"]).get_json()


def test_the_worklist_speaks_spanish_when_asked_and_names_the_record_in_spanish(records, mint):
    client, _ = records
    asked, _ = _ask(client, mint, GUSTAVO)
    spanish = client.get(f"/patient/v1/records/{asked['record_id']}", headers=_patient(mint, GUSTAVO)).get_json()
    resp = client.get(BASE, headers={**_officer(mint), "Accept-Language": "es"})
    assert resp.headers["Content-Language"] == "es"
    [item] = resp.get_json()["items"]
    assert item["record"]["title"] == spanish["title"]
    assert item["status"]["status_text"] == "Esperando su respuesta"
    assert " de " in item["due"]["display"]


def test_the_oldest_request_comes_first_and_an_overdue_one_shows_negative_days_left(records, mint):
    client, engine = records
    newer, _ = _ask(client, mint, LIZ)
    older, _ = _ask(client, mint, GUSTAVO)
    _backdate(engine, older["id"], 70)
    items = client.get(BASE, headers=_officer(mint)).get_json()["items"]
    assert [i["id"] for i in items] == [older["id"], newer["id"]]
    assert items[0]["days_left"] == -10 and items[0]["overdue"] is True
    assert items[0]["status"]["code"] == "overdue" and items[1]["overdue"] is False


def test_answered_requests_are_listed_apart(records, mint):
    client, _ = records
    first, _ = _ask(client, mint)
    second, _ = _ask(client, mint, GUSTAVO)
    assert client.post(f"{BASE}/{first['id']}/deny", json={"reason": "The record is right."},
                       headers=_officer(mint)).status_code == 200
    assert [i["id"] for i in client.get(BASE, headers=_officer(mint)).get_json()["items"]] == [second["id"]]
    answered = client.get(f"{BASE}?status=answered", headers=_officer(mint)).get_json()["items"]
    assert [i["id"] for i in answered] == [first["id"]] and answered[0]["state"] == "answered"
    assert answered[0]["actions"] == []


def test_the_worklist_pages_oldest_first_with_the_one_cursor_and_a_cursor_keeps_to_its_list(records, mint):
    client, engine = records
    newer, _ = _ask(client, mint, LIZ)
    older, _ = _ask(client, mint, GUSTAVO)
    _backdate(engine, older["id"], 3)
    first = client.get(f"{BASE}?limit=1", headers=_officer(mint)).get_json()
    assert [i["id"] for i in first["items"]] == [older["id"]] and first["next"]
    second = client.get(f"{BASE}?limit=1&cursor={first['next']}", headers=_officer(mint)).get_json()
    assert [i["id"] for i in second["items"]] == [newer["id"]] and second["next"] is None
    naive = paging.encode("corrections", "open", "2026-01-01T00:00:00", "t-1")  # no offset: not ours
    for query, field in ((f"status=answered&cursor={first['next']}", "cursor"), ("cursor=nonsense", "cursor"),
                         (f"cursor={naive}", "cursor"), ("limit=0", "limit"), ("limit=101", "limit")):
        resp = client.get(f"{BASE}?{query}", headers=_officer(mint))
        assert resp.status_code == 422 and resp.get_json()["fields"] == [field], query


def test_a_request_answered_while_an_officer_pages_makes_the_next_page_skip_none(records, mint):
    client, engine = records
    asked = [_ask(client, mint, patient)[0] for patient in (LIZ, GUSTAVO, LIZ)]
    for days, item in zip((3, 2, 1), asked):
        _backdate(engine, item["id"], days)
    first = client.get(f"{BASE}?limit=1", headers=_officer(mint)).get_json()
    assert [i["id"] for i in first["items"]] == [asked[0]["id"]]
    assert client.post(f"{BASE}/{asked[0]['id']}/deny", json={"reason": "The record is right."},
                       headers=_officer(mint)).status_code == 200
    rest = client.get(f"{BASE}?limit=5&cursor={first['next']}", headers=_officer(mint)).get_json()
    assert [i["id"] for i in rest["items"]] == [asked[1]["id"], asked[2]["id"]]


def test_a_bad_status_filter_is_a_422_naming_it(records, mint):
    resp = records.client.get(f"{BASE}?status=everything", headers=_officer(mint))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert resp.get_json()["fields"] == ["status"]


def test_another_departments_officer_never_sees_the_request(records, mint):
    client, engine = records
    asked, _ = _ask(client, mint)
    theirs = _officer(mint, dept="cardiology", staff_id="s-9")
    assert client.get(BASE, headers=theirs).get_json()["items"] == []
    assert client.get(f"{BASE}?status=answered", headers=theirs).get_json()["items"] == []
    before = _state(engine)
    for method, path, body in (("get", f"{BASE}/{asked['id']}", None),
                               ("post", f"{BASE}/{asked['id']}/accept", {"action": "entered-in-error"}),
                               ("post", f"{BASE}/{asked['id']}/deny", {"reason": "No."})):
        resp = getattr(client, method)(path, json=body, headers=theirs)
        assert resp.status_code == 404 and resp.content_type == "application/problem+json", path
        assert "never had" not in resp.get_data(as_text=True)
    assert _state(engine) == before


# -- who may --------------------------------------------------------------------------------------

def _routes(task_id):
    return (("get", BASE, None), ("get", f"{BASE}/{task_id}", None),
            ("post", f"{BASE}/{task_id}/accept", {"action": "entered-in-error"}),
            ("post", f"{BASE}/{task_id}/deny", {"reason": "No."}))


@pytest.mark.parametrize("who", ["clinician", "privacy-officer", "admin", "patient", "department",
                                 "officer-without-answer-scope"])
def test_only_a_records_officer_may_read_or_answer(records, mint, who):
    client, engine = records
    asked, _ = _ask(client, mint)
    headers = {"clinician": mint.staff(dept="primary-care", roles=("clinician",)),
               "privacy-officer": mint.staff(dept="primary-care", roles=("privacy-officer",)),
               "admin": mint.staff(dept="primary-care", roles=("admin",)),
               "patient": _patient(mint),
               "department": mint.department("primary-care"),
               "officer-without-answer-scope": _officer(mint, scope="user/Task.rs")}[who]
    before = _state(engine)
    for method, path, body in _routes(asked["id"]):
        if who == "officer-without-answer-scope" and method == "get":
            continue
        resp = getattr(client, method)(path, json=body, headers=headers)
        assert resp.status_code == 403 and resp.content_type == "application/problem+json", (who, path)
    assert _state(engine) == before


def test_a_staff_token_without_a_practitioner_is_refused(records, mint):
    client, _ = records
    asked, _ = _ask(client, mint)
    resp = client.post(f"{BASE}/{asked['id']}/deny", json={"reason": "No."},
                       headers=_officer(mint, fhirUser="Patient/x"))
    assert resp.status_code == 403


def test_no_token_is_401_and_a_revoked_token_is_401(records, mint):
    client, engine = records
    asked, _ = _ask(client, mint)
    before = _state(engine)
    for method, path, body in _routes(asked["id"]):
        assert getattr(client, method)(path, json=body).status_code == 401
    headers = _officer(mint)
    token = headers["Authorization"].split()[1]
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]

    class Revoked:
        def is_revoked(self, value):
            return value == jti

    records.app.extensions["token_validator"].revocations = Revoked()
    for method, path, body in _routes(asked["id"]):
        resp = getattr(client, method)(path, json=body, headers=headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
    assert _state(engine) == before


def test_an_unknown_request_is_404(records, mint):
    client, engine = records
    before = _state(engine)
    for method, path, body in _routes("no-such-task"):
        if path == BASE:
            continue
        assert getattr(client, method)(path, json=body, headers=_officer(mint)).status_code == 404
    # a Task that is not a correction request is not one either
    task = {"resourceType": "Task", "id": "plain-task", "status": "requested", "intent": "order",
            "for": {"reference": f"Patient/{LIZ}"}}
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": task, "request": {"method": "PUT", "url": "Task/plain-task"}}]}
    assert client.post("/fhir", json=bundle, headers=mint.department()).status_code == 200
    assert client.get(f"{BASE}/plain-task", headers=_officer(mint)).status_code == 404
    assert _state(engine)[0] == before[0] + 1


# -- bodies ---------------------------------------------------------------------------------------

BAD_ACCEPTS = [
    ("not json", "text/plain", "body"),
    ("[1, 2]", "application/json", "body"),
    ('"amend"', "application/json", "body"),
    ("{}", "application/json", "action"),
    ('{"action": "delete"}', "application/json", "action"),
    ('{"action": "amend"}', "application/json", "resource"),
    ('{"action": "amend", "resource": "x"}', "application/json", "resource"),
    ('{"action": "entered-in-error", "resource": {}}', "application/json", "resource"),
    ('{"action": "entered-in-error", "why": "x"}', "application/json", "why"),
]


@pytest.mark.parametrize("raw, content_type, field", BAD_ACCEPTS)
def test_a_malformed_accept_is_a_422_naming_the_field_and_changes_nothing(records, mint, raw, content_type, field):
    client, engine = records
    asked, _ = _ask(client, mint)
    before = _state(engine)
    resp = client.post(f"{BASE}/{asked['id']}/accept", data=raw, content_type=content_type, headers=_officer(mint))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json", resp.get_data(as_text=True)
    assert field in resp.get_json()["fields"]
    assert _state(engine) == before


@pytest.mark.parametrize("body, field", [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
                                         ({"reason": "x" * 1001}, "reason"), ({"reason": 7}, "reason"),
                                         ({"reason": "No.", "extra": 1}, "extra")])
def test_a_malformed_deny_is_a_422_naming_the_field_and_changes_nothing(records, mint, body, field):
    client, engine = records
    asked, _ = _ask(client, mint)
    before = _state(engine)
    resp = client.post(f"{BASE}/{asked['id']}/deny", json=body, headers=_officer(mint))
    assert resp.status_code == 422 and field in resp.get_json()["fields"]
    assert _state(engine) == before


def test_an_oversized_body_is_a_413_and_changes_nothing(records, mint):
    client, engine = records
    asked, _ = _ask(client, mint)
    before = _state(engine)
    huge = json.dumps({"reason": "x" * (70 * 1024)})
    resp = client.post(f"{BASE}/{asked['id']}/deny", data=huge, content_type="application/json",
                       headers=_officer(mint))
    assert resp.status_code == 413 and resp.content_type == "application/problem+json"
    huge = json.dumps({"action": "amend", "resource": {"resourceType": "Condition", "note": [{"text": "x" * (1 << 20)}]}})
    resp = client.post(f"{BASE}/{asked['id']}/accept", data=huge, content_type="application/json",
                       headers=_officer(mint))
    assert resp.status_code == 413
    assert _state(engine) == before


def test_an_amendment_that_is_not_the_same_valid_record_is_a_422_and_changes_nothing(records, mint):
    client, engine = records
    asked, record = _ask(client, mint)
    current = _fhir(client, mint, record["reference"]).get_json()
    other_patient = next(e["resource"] for e in demo_bundle("Gustavo_Mejia")["entry"]
                         if e["resource"]["resourceType"] == "Patient")
    before = _state(engine)
    for resource in (current,  # nothing corrected
                     {**current, "id": "another-id"},
                     {**current, "resourceType": "Observation"},
                     {**current, "clinicalStatus": "not a concept"},
                     {**current, "subject": {"reference": f"Patient/{other_patient['id']}"}}):
        resp = client.post(f"{BASE}/{asked['id']}/accept", json={"action": "amend", "resource": resource},
                           headers=_officer(mint))
        assert resp.status_code == 422 and resp.get_json()["fields"] == ["resource"], resp.get_data(as_text=True)
    assert _state(engine) == before


def test_an_amendment_made_on_an_older_version_is_a_412(records, mint):
    client, engine = records
    asked, record = _ask(client, mint)
    current = _fhir(client, mint, record["reference"]).get_json()
    before = _state(engine)
    resp = client.post(f"{BASE}/{asked['id']}/accept", json={"action": "amend", "resource": current},
                       headers={**_officer(mint), "If-Match": 'W/"0"'})
    assert resp.status_code == 412 and resp.get_json()["current_version"] == "1"
    assert _state(engine) == before


# -- answers --------------------------------------------------------------------------------------

def test_accepting_with_an_amendment_versions_the_record_and_keeps_a_provenance_naming_the_officer(records, mint):
    client, engine = records
    asked, record = _ask(client, mint)
    current = _fhir(client, mint, record["reference"])
    corrected = {**current.get_json(), "note": [{"text": "Corrected at the patient's request."}]}
    resp = client.post(f"{BASE}/{asked['id']}/accept", json={"action": "amend", "resource": corrected},
                       headers={**_officer(mint), "If-Match": current.headers["ETag"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    item = resp.get_json()
    assert item["state"] == "answered" and item["status"]["code"] == "amend"
    assert item["answer"]["answered_by"] == {"staff": OFFICER, "practitioner": f"Practitioner/{OFFICER}"}
    assert item["answer"]["outcome"] == {"code": "amend", "status_text": "Record corrected"}

    now = _fhir(client, mint, record["reference"]).get_json()
    assert now["meta"]["versionId"] == "2" and now["note"] == corrected["note"]
    history = client.get(f"/fhir/{record['reference']}/_history", headers=mint.department()).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]

    task = _fhir(client, mint, f"Task/{asked['id']}").get_json()
    Task.model_validate(task)
    assert task["status"] == "completed" and task["meta"]["versionId"] == "2"
    assert task["output"][0]["valueReference"]["reference"] == f"{record['reference']}/_history/2"
    provenance = _fhir(client, mint, task["relevantHistory"][0]["reference"]).get_json()
    Provenance.model_validate(provenance)
    agent = provenance["agent"][0]
    assert agent["who"]["reference"] == f"Practitioner/{OFFICER}"
    assert agent["onBehalfOf"]["identifier"]["value"] == "primary-care"
    assert {t["reference"] for t in provenance["target"]} == {f"{record['reference']}/_history/2",
                                                              f"Task/{asked['id']}/_history/2"}
    assert provenance["entity"] == [{"role": "source", "what": {"reference": f"Task/{asked['id']}"}}]

    [event] = _events(engine, "phr.records.amendment-updated")
    assert event["subject"] == LIZ
    assert (event["data"]["status"], event["data"]["previous_status"], event["data"]["action"]) == (
        "completed", "requested", "amend")
    assert event["data"]["answered_by"] == {"staff": OFFICER, "practitioner": f"Practitioner/{OFFICER}",
                                            "department": "primary-care"}
    mine = client.get("/patient/v1/amendments", headers=_patient(mint)).get_json()["items"]
    assert mine[0]["status"]["code"] == "completed" and mine[0]["can_disagree"] is False


def test_marking_a_condition_entered_in_error_versions_it_and_the_patient_sees_it_so(records, mint):
    client, engine = records
    asked, record = _ask(client, mint)
    resp = client.post(f"{BASE}/{asked['id']}/accept", json={"action": "entered-in-error"}, headers=_officer(mint))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["status"]["status_text"] == "Marked as entered in error"
    now = _fhir(client, mint, record["reference"]).get_json()
    assert now["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in now and now["meta"]["versionId"] == "2"
    seen = client.get(f"/patient/v1/records/{record['id']}", headers=_patient(mint)).get_json()
    assert seen["status"] == {"code": "entered-in-error", "status_text": "Entered by mistake"}
    [event] = _events(engine, "phr.records.amendment-updated")
    assert event["data"]["action"] == "entered-in-error"


def test_marking_an_observation_entered_in_error_sets_its_status(records, mint):
    client, _ = records
    asked, record = _ask(client, mint, category="vital-signs")
    resp = client.post(f"{BASE}/{asked['id']}/accept", json={"action": "entered-in-error"}, headers=_officer(mint))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert _fhir(client, mint, record["reference"]).get_json()["status"] == "entered-in-error"


def test_denying_keeps_the_reason_and_tells_the_patient(records, mint):
    client, engine = records
    asked, record = _ask(client, mint)
    resp = client.post(f"{BASE}/{asked['id']}/deny", json={"reason": "  Our notes show this is right.  "},
                       headers=_officer(mint))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    item = resp.get_json()
    assert item["answer"]["reason"] == "Our notes show this is right." and item["status"]["code"] == "deny"
    assert item["next_step"] == "Nothing more to do now. The patient may send a statement of disagreement."
    task = _fhir(client, mint, f"Task/{asked['id']}").get_json()
    assert task["status"] == "rejected" and task["statusReason"] == {"text": "Our notes show this is right."}
    provenance = _fhir(client, mint, task["relevantHistory"][0]["reference"]).get_json()
    assert provenance["target"] == [{"reference": f"Task/{asked['id']}/_history/2"}]
    assert _fhir(client, mint, record["reference"]).get_json()["meta"]["versionId"] == "1"
    [event] = _events(engine, "phr.records.amendment-updated")
    assert (event["data"]["status"], event["data"]["action"]) == ("rejected", "deny")
    mine = client.get("/patient/v1/amendments", headers={**_patient(mint), "Accept-Language": "es"}).get_json()
    assert mine["items"][0]["reason"] == "Our notes show this is right."
    assert mine["items"][0]["can_disagree"] is True and mine["items"][0]["next_step"]


@pytest.mark.parametrize("first, second", [("deny", "deny"), ("deny", "accept"), ("accept", "deny"),
                                           ("accept", "accept")])
def test_answering_twice_is_a_409_and_changes_nothing(records, mint, first, second):
    client, engine = records
    asked, _ = _ask(client, mint)
    bodies = {"deny": {"reason": "No."}, "accept": {"action": "entered-in-error"}}
    assert client.post(f"{BASE}/{asked['id']}/{first}", json=bodies[first], headers=_officer(mint)).status_code == 200
    before = _state(engine)
    resp = client.post(f"{BASE}/{asked['id']}/{second}", json=bodies[second], headers=_officer(mint, staff_id="s-8"))
    assert resp.status_code == 409 and resp.content_type == "application/problem+json"
    assert _state(engine) == before


def test_a_record_with_no_entered_in_error_status_must_be_amended_instead(records, mint):
    client, engine = records
    headers = _patient(mint)
    resp = client.post("/patient/v1/amendments", headers=headers, json={
        "record_id": f"Patient/{LIZ}", "what_is_wrong": "My name is spelled wrong.", "correction": "Liz."})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    before = _state(engine)
    resp = client.post(f"{BASE}/{resp.get_json()['id']}/accept", json={"action": "entered-in-error"},
                       headers=_officer(mint))
    assert resp.status_code == 422 and resp.get_json()["fields"] == ["action"]
    assert _state(engine) == before


# -- the statement of disagreement ----------------------------------------------------------------

def _denied(client, mint, patient=LIZ):
    asked, record = _ask(client, mint, patient)
    assert client.post(f"{BASE}/{asked['id']}/deny", json={"reason": "The record is right."},
                       headers=_officer(mint)).status_code == 200
    return asked, record


def _disagree(client, mint, task_id, patient=LIZ, statement="I still say I never had this.", **claims):
    return client.post(f"/patient/v1/corrections/{task_id}/disagreement", json={"statement": statement},
                       headers=_patient(mint, patient, **claims))


def test_a_patient_disagrees_with_a_denial_and_the_statement_is_kept_with_the_record(records, mint):
    client, engine = records
    asked, record = _denied(client, mint)
    resp = _disagree(client, mint, asked["id"])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["disagreement"]["statement"] == "I still say I never had this."
    assert body["can_disagree"] is False and body["next_step"] is None

    page = client.get(f"/patient/v1/records/{record['id']}", headers={**_patient(mint), "Accept-Language": "es"})
    [shown] = page.get_json()["disagreements"]
    assert shown["statement"] == "I still say I never had this." and shown["request"] == asked["id"]
    assert page.headers["Content-Language"] == "es" and shown["explanation"]

    task = _fhir(client, mint, f"Task/{asked['id']}").get_json()
    doc_ref = task["output"][-1]["valueReference"]["reference"]
    doc = _fhir(client, mint, doc_ref).get_json()
    DocumentReference.model_validate(doc)
    assert {r["reference"] for r in doc["context"]["related"]} == {record["reference"], f"Task/{asked['id']}"}
    assert doc["subject"] == {"reference": f"Patient/{LIZ}"}
    [event] = _events(engine, "phr.records.disagreement-filed")
    assert event["data"] == {**event["data"], "patient": LIZ, "task": f"Task/{asked['id']}",
                             "record": record["reference"], "statement": doc_ref, "by_caregiver": False}
    officer_view = client.get(f"{BASE}/{asked['id']}", headers=_officer(mint)).get_json()
    assert officer_view["disagreement"]["statement"] == "I still say I never had this."


def test_the_statement_travels_beside_its_record_in_the_next_exchange_bundle(records, mint):
    client, _ = records
    asked, record = _denied(client, mint)
    assert _disagree(client, mint, asked["id"]).status_code == 201
    svc = records.service
    rtype = record["reference"].split("/")[0]
    reply = handlers.fetch_records(handlers.FetchRecords("req-1", LIZ, [rtype], [], "cardiology"), svc.uow())
    bundle = json.loads(handlers.read_claim_check(svc.uow(), reply["bundle_ref"], "cardiology").content)
    refs = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
    at = refs.index(record["reference"])
    statement = bundle["entry"][at + 1]["resource"]
    assert statement["resourceType"] == "DocumentReference"
    assert base64.b64decode(statement["content"][0]["attachment"]["data"]).decode() == "I still say I never had this."
    assert reply["resource_count"] == len(bundle["entry"])
    assert sum(r.startswith("DocumentReference/") for r in refs) == 1


def test_a_statement_about_a_redacted_record_is_redacted_with_it(records, mint):
    client, engine = records
    asked, record = _denied(client, mint)
    assert _disagree(client, mint, asked["id"]).status_code == 201
    rtype, rid = record["reference"].split("/")
    with engine.begin() as conn:  # the record is labelled mental health after the statement was filed
        content = json.loads(conn.execute(sa.select(resources.c.content).where(
            resources.c.resource_type == rtype, resources.c.id == rid)).scalar_one())
        content.setdefault("meta", {})["security"] = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                      "code": "PSY"}]
        conn.execute(resources.update().where(resources.c.resource_type == rtype, resources.c.id == rid)
                     .values(content=json.dumps(content)))
    svc = records.service
    reply = handlers.fetch_records(handlers.FetchRecords("req-2", LIZ, [], ["PSY"], "cardiology"), svc.uow())
    bundle = json.loads(handlers.read_claim_check(svc.uow(), reply["bundle_ref"], "cardiology").content)
    refs = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert record["reference"] not in refs
    assert not any(r.startswith("DocumentReference/") for r in refs)


def test_one_statement_per_request_a_second_is_409(records, mint):
    client, engine = records
    asked, _ = _denied(client, mint)
    assert _disagree(client, mint, asked["id"]).status_code == 201
    before = _state(engine)
    resp = _disagree(client, mint, asked["id"], statement="And another thing.")
    assert resp.status_code == 409 and resp.get_json()["next_step"]
    assert _state(engine) == before


def test_a_statement_before_a_denial_is_409(records, mint):
    client, engine = records
    asked, _ = _ask(client, mint)
    before = _state(engine)
    assert _disagree(client, mint, asked["id"]).status_code == 409
    assert client.post(f"{BASE}/{asked['id']}/accept", json={"action": "entered-in-error"},
                       headers=_officer(mint)).status_code == 200
    assert _disagree(client, mint, asked["id"]).status_code == 409
    assert _state(engine)[0] == before[0] + 1  # only the officer's Provenance was added


def test_another_patient_cannot_disagree_with_a_request_that_is_not_theirs(records, mint):
    client, engine = records
    asked, _ = _denied(client, mint)
    before = _state(engine)
    resp = _disagree(client, mint, asked["id"], patient=GUSTAVO)
    assert resp.status_code == 404 and "never had" not in resp.get_data(as_text=True)
    assert _disagree(client, mint, "no-such-request").status_code == 404
    assert _state(engine) == before


@pytest.mark.parametrize("who", ["department", "officer", "caregiver-without-the-right", "no-token"])
def test_only_the_patient_or_a_caregiver_with_the_right_may_disagree(records, mint, who):
    client, engine = records
    asked, _ = _denied(client, mint)
    headers = {"department": mint.department("primary-care"), "officer": _officer(mint),
               "caregiver-without-the-right": mint.patient(LIZ, scope="openid fhirUser patient/*.rs",
                                                          sub="liz", act={"sub": "carer-7"}),
               "no-token": {}}[who]
    before = _state(engine)
    resp = client.post(f"/patient/v1/corrections/{asked['id']}/disagreement", json={"statement": "No."},
                       headers=headers)
    assert resp.status_code == (401 if who == "no-token" else 403)
    assert _state(engine) == before


def test_a_caregiver_with_the_right_files_the_statement_and_it_says_so(records, mint):
    client, engine = records
    asked, _ = _denied(client, mint)
    resp = _disagree(client, mint, asked["id"], act={"sub": "carer-7"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    [event] = _events(engine, "phr.records.disagreement-filed")
    assert event["data"]["by_caregiver"] is True
    doc = _fhir(client, mint, event["data"]["statement"]).get_json()
    assert doc["author"][0]["identifier"]["value"] == "carer-7"


@pytest.mark.parametrize("raw, field", [('{}', "statement"), ('{"statement": ""}', "statement"),
                                        ('{"statement": "   "}', "statement"),
                                        (json.dumps({"statement": "x" * 2001}), "statement"),
                                        ('{"statement": "No.", "more": 1}', "more"), ("[1]", "body"),
                                        ("nope", "body")])
def test_a_malformed_statement_is_a_422_and_changes_nothing(records, mint, raw, field):
    client, engine = records
    asked, _ = _denied(client, mint)
    before = _state(engine)
    resp = client.post(f"/patient/v1/corrections/{asked['id']}/disagreement", data=raw,
                       content_type="application/json", headers=_patient(mint))
    assert resp.status_code == 422 and field in resp.get_json()["fields"]
    assert _state(engine) == before


def test_a_revoked_patient_token_or_an_oversized_statement_changes_nothing(records, mint):
    client, engine = records
    asked, _ = _denied(client, mint)
    path = f"/patient/v1/corrections/{asked['id']}/disagreement"
    before = _state(engine)
    resp = client.post(path, data=json.dumps({"statement": "x" * (70 * 1024)}), content_type="application/json",
                       headers=_patient(mint))
    assert resp.status_code == 413 and resp.content_type == "application/problem+json"
    headers = _patient(mint)
    jti = json.loads(base64.urlsafe_b64decode(headers["Authorization"].split()[1].split(".")[1] + "=="))["jti"]

    class Revoked:
        def is_revoked(self, value):
            return value == jti

    records.app.extensions["token_validator"].revocations = Revoked()
    resp = client.post(path, json={"statement": "No."}, headers=headers)
    assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
    assert _state(engine) == before
