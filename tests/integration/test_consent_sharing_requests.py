"""Sharing requests through the consent service on SQLite and PostgreSQL, with minted staff and
patient tokens: a clinician asks, the patient reads the request in their language with the exact
consent text, and approves (a consent that permits a decision) or declines (none)."""
import base64
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts.events import problems as event_problems
from contracts.schemas.consent import (PatientSharingRequestListSchema, SharingApprovalSchema,
                                       StaffSharingRequestListSchema, StaffSharingRequestSchema)
from services.common.auth import RevocationFeed
from services.consent.adapters.tables import consents, outbox, sharing_requests
from tests.support.consent import apply_directory, department, patient
from tests.support.directory import event as directory_event

ASK = {"patient": "pat-1", "classes": ["Observation", "Condition"], "purposes": ["TREAT"],
       "period": {"days": 30}, "reason": "Your heart doctor wants to see your recent tests before the visit."}
APPROVE_HEADERS = {}


def clinician(mint, dept="cardiology", staff_id="s-1", **claims):
    return mint.staff(dept=dept, roles=("clinician",), staff_id=staff_id, **claims)


def ask(client, headers, **changes):
    return client.post("/staff/v1/sharing-requests", json={**ASK, **changes}, headers=headers)


def asked(client, mint, **changes) -> dict:
    resp = ask(client, clinician(mint), **changes)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def events(engine) -> list[dict]:
    with engine.connect() as conn:
        found = [json.loads(r.payload) for r in conn.execute(sa.select(outbox).order_by(outbox.c.seq))]
    for e in found:
        assert event_problems(e) == []
    return found


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def decision(client, mint, dept="cardiology", classes=("Observation", "Condition")) -> str:
    resp = client.post("/consent/v1/decisions", headers=department(mint, dept, "system/Consent.r"),
                       json={"patient": "pat-1", "actor": dept, "purpose": "TREAT", "classes": list(classes)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["decision"]


def mine(client, headers) -> list[dict]:
    resp = client.get("/patient/v1/sharing-requests", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert PatientSharingRequestListSchema().validate(resp.get_json()) == {}
    return resp.get_json()["items"]


# -- the clinician asks -------------------------------------------------------------------------------

def test_a_clinician_asks_a_patient_to_share_and_the_request_waits_with_who_asked(consent, mint):
    client, engine = consent
    resp = ask(client, clinician(mint, staff_id="s-9"), exchange_request="x-1")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert StaffSharingRequestSchema().validate(body) == {}
    assert resp.headers["Location"] == f"/staff/v1/sharing-requests/{body['id']}"
    assert body["department"] == {"id": "cardiology", "display": "Cardiology"}
    assert body["requested_by"] == {"sub": "s-9", "fhirUser": "Practitioner/s-9"}
    assert body["status"] == {"code": "pending", "status_text": "Waiting for the patient"}
    assert body["next_step"].startswith("Wait for the patient to answer.")
    assert body["period"] == {"days": 30, "end": None, "display": "For 30 days after you say yes"}
    (requested,) = events(engine)
    assert requested["type"] == "phr.consent.sharing-requested" and requested["subject"] == "pat-1"
    assert requested["data"]["department"] == "cardiology" and requested["data"]["exchange_request"] == "x-1"
    assert requested["data"]["requested_by"] == {"sub": "s-9", "fhirUser": "Practitioner/s-9"}
    assert requested["data"]["period"] == {"days": 30}
    listed = client.get("/staff/v1/sharing-requests", headers=clinician(mint))
    assert StaffSharingRequestListSchema().validate(listed.get_json()) == {}
    assert [r["id"] for r in listed.get_json()["items"]] == [body["id"]]
    one = client.get(f"/staff/v1/sharing-requests/{body['id']}", headers=clinician(mint, staff_id="s-2"))
    assert one.status_code == 200 and one.get_json() == body


def test_the_staff_read_their_requests_in_spanish(consent, mint):
    client, _ = consent
    rid = asked(client, mint)["id"]
    body = client.get(f"/staff/v1/sharing-requests/{rid}", headers={**clinician(mint), "Accept-Language": "es"})
    assert body.headers["Content-Language"] == "es"
    assert body.get_json()["status"]["status_text"] == "Esperando al paciente"


def test_the_same_request_again_is_a_409_and_a_fourth_waiting_one_too(consent, mint):
    client, engine = consent
    first = asked(client, mint)
    again = ask(client, clinician(mint, staff_id="s-2"), classes=["Condition", "Observation"])
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    assert again.get_json()["existing"] == first["id"]
    assert "already asked" in again.get_json()["detail"]
    asked(client, mint, classes=["Procedure"])
    asked(client, mint, classes=["Immunization"])
    fourth = ask(client, clinician(mint), classes=["MedicationRequest"])
    assert fourth.status_code == 409 and "3 requests waiting" in fourth.get_json()["detail"]
    assert count(engine, sharing_requests) == 3 and len(events(engine)) == 3
    assert ask(client, clinician(mint, dept="primary-care"), classes=["MedicationRequest"]).status_code == 201


def test_staff_list_pages_and_filters_by_status(consent, mint):
    client, _ = consent
    ids = [asked(client, mint, classes=[kind])["id"] for kind in ("Observation", "Condition", "Procedure")]
    consent.service.clock.now += timedelta(seconds=1)
    first = client.get("/staff/v1/sharing-requests?limit=2", headers=clinician(mint)).get_json()
    second = client.get(f"/staff/v1/sharing-requests?limit=2&cursor={first['next']}",
                        headers=clinician(mint)).get_json()
    assert len(first["items"]) == 2 and second["next"] is None
    assert sorted(r["id"] for r in first["items"] + second["items"]) == sorted(ids)
    client.post(f"/patient/v1/sharing-requests/{ids[0]}/decline", headers=patient(mint))
    declined = client.get("/staff/v1/sharing-requests?status=declined", headers=clinician(mint)).get_json()
    assert [r["id"] for r in declined["items"]] == [ids[0]]
    pending = client.get("/staff/v1/sharing-requests?status=pending", headers=clinician(mint)).get_json()
    assert sorted(r["id"] for r in pending["items"]) == sorted(ids[1:])
    for bad in ("limit=0", "cursor=abc", "status=lost"):
        resp = client.get(f"/staff/v1/sharing-requests?{bad}", headers=clinician(mint))
        assert resp.status_code == 422 and resp.get_json()["fields"] == [bad.split("=")[0]]


# -- negatives on the staff side --------------------------------------------------------------------

def test_a_request_without_a_token_is_401_and_changes_nothing(consent, mint):
    client, engine = consent
    assert client.post("/staff/v1/sharing-requests", json=ASK).status_code == 401
    assert client.get("/staff/v1/sharing-requests").status_code == 401
    assert count(engine, sharing_requests) == 0


@pytest.mark.parametrize("who", ["patient", "department", "records-officer", "privacy-officer", "admin"])
def test_only_a_clinicians_token_may_ask_or_list(consent, mint, who):
    client, engine = consent
    headers = {"patient": patient(mint), "department": department(mint, "cardiology", "system/*.cruds")}.get(who) \
        or mint.staff(dept="cardiology", roles=(who,))
    resp = ask(client, headers)
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"
    assert client.get("/staff/v1/sharing-requests", headers=headers).status_code == 403
    assert count(engine, sharing_requests) == 0


def test_a_user_scope_without_a_department_or_a_person_is_refused(consent, mint):
    client, engine = consent
    scope = "user/SharingRequest.cr"
    assert ask(client, mint.patient("pat-1", scope=scope)).status_code == 403
    assert count(engine, sharing_requests) == 0


def test_an_oversight_departments_staff_may_not_ask(consent, mint):
    client, engine = consent
    resp = ask(client, clinician(mint, dept="oversight"))
    assert resp.status_code == 403 and "may not hold a patient's consent" in resp.get_json()["detail"]
    assert count(engine, sharing_requests) == 0 and events(engine) == []


def test_a_disabled_departments_staff_token_is_refused(consent, mint):
    client, engine = consent
    apply_directory(consent, directory_event("cardiology", status="disabled", version=2))
    assert ask(client, clinician(mint)).status_code == 401
    assert count(engine, sharing_requests) == 0


def test_a_revoked_staff_token_is_refused(consent, mint):
    client, engine = consent
    headers = clinician(mint)
    jti = json.loads(base64.urlsafe_b64decode(headers["Authorization"].split(".")[1] + "==="))["jti"]
    validator = client.application.extensions["token_validator"]
    validator.revocations = RevocationFeed("memory://", fetch=lambda _url, _etag: (None, {jti: int(time.time()) + 300}))
    try:
        resp = ask(client, headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
        assert count(engine, sharing_requests) == 0
    finally:
        validator.revocations.close()
        validator.revocations = None


def test_another_departments_staff_neither_see_nor_read_the_request(consent, mint):
    client, _ = consent
    rid = asked(client, mint)["id"]
    other = clinician(mint, dept="primary-care", staff_id="s-5")
    resp = client.get(f"/staff/v1/sharing-requests/{rid}", headers=other)
    assert resp.status_code == 404 and resp.headers["Content-Type"] == "application/problem+json"
    assert client.get("/staff/v1/sharing-requests", headers=other).get_json()["items"] == []
    assert client.get("/staff/v1/sharing-requests/nope", headers=clinician(mint)).status_code == 404


@pytest.mark.parametrize("body, status, field", [
    ({**ASK, "colour": "red"}, 422, "colour"),
    ({**ASK, "classes": ["Nope"]}, 422, "classes"),
    ({**ASK, "purposes": ["TREAT", "HRESCH"]}, 422, "purposes"),
    ({**ASK, "period": {"days": 0}}, 422, "period.days"),
    ({**ASK, "period": {"days": 400}}, 422, "period.days"),
    ({**ASK, "period": {}}, 422, "period"),
    ({**ASK, "period": {"days": 3, "end": "2030-01-01"}}, 422, "period"),
    ({**ASK, "period": {"end": "2020-01-01"}}, 422, "period.end"),
    ({**ASK, "period": {"end": "tomorrow!!"}}, 422, "period.end"),
    ({**ASK, "reason": ""}, 422, "reason"),
    ({**ASK, "reason": "x" * 1001}, 422, "reason"),
    ({**ASK, "patient": "p" * 65}, 422, "patient"),
    ({k: v for k, v in ASK.items() if k != "reason"}, 422, "reason"),
    ([ASK], 422, "body"), ("text", 422, "body")])
def test_a_malformed_request_is_a_422_that_names_the_field_and_changes_nothing(consent, mint, body, status, field):
    client, engine = consent
    resp = client.post("/staff/v1/sharing-requests", json=body, headers=clinician(mint))
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert field in resp.get_json()["fields"]
    assert count(engine, sharing_requests) == 0 and events(engine) == []


def test_an_oversized_or_non_json_body_is_refused_and_changes_nothing(consent, mint):
    client, engine = consent
    big = client.post("/staff/v1/sharing-requests", data=json.dumps({**ASK, "reason": "x" * 70_000}),
                      content_type="application/json", headers=clinician(mint))
    assert big.status_code == 413 and big.headers["Content-Type"] == "application/problem+json"
    text = client.post("/staff/v1/sharing-requests", data="patient=pat-1", headers=clinician(mint),
                       content_type="application/x-www-form-urlencoded")
    assert text.status_code == 422
    assert count(engine, sharing_requests) == 0 and events(engine) == []


# -- the patient reads and answers --------------------------------------------------------------------

def test_the_patient_reads_who_asks_for_what_why_and_the_exact_consent_in_plain_words(consent, mint):
    client, _ = consent
    rid = asked(client, mint)["id"]
    (item,) = mine(client, patient(mint))
    assert item["id"] == rid
    assert item["summary"] == "Cardiology asks to see your lab results and health problems to treat you."
    assert item["status"] == {"code": "pending", "status_text": "Waiting for your answer"}
    assert item["asked_by"] == {"role": {"code": "clinician", "display": "Clinician"},
                                "display": "Clinician at Cardiology"}
    assert [c["code"] for c in item["classes"]] == ["Observation", "Condition"]
    assert item["reason"]["quote"] == ASK["reason"]
    assert item["period"]["display"] == "For 30 days after you say yes"
    assert item["consent_text"]["text"].startswith("I allow Cardiology to see these records about me:")
    assert item["consent_text"]["language"] == "en"
    assert item["next_step"].startswith("Read the consent below")


def test_a_spanish_speaker_reads_the_request_and_its_consent_in_spanish(consent, mint):
    client, _ = consent
    asked(client, mint)
    resp = client.get("/patient/v1/sharing-requests", headers=patient(mint, locale="es"))
    assert resp.headers["Content-Language"] == "es"
    (item,) = resp.get_json()["items"]
    assert item["consent_text"]["language"] == "es"
    assert item["consent_text"]["text"].startswith("Permito que Cardiología")
    assert item["status"]["status_text"] == "Esperando su respuesta"
    assert item["reason"]["quote"] == ASK["reason"]  # their words, as written


def test_approving_grants_the_consent_that_permits_the_departments_decision(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    assert decision(client, mint) == "deny"
    shown = mine(client, patient(mint))[0]["consent_text"]
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=patient(mint),
                       json={"text_sha256": shown["sha256"]})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert SharingApprovalSchema().validate(body) == {}
    assert body["status"]["code"] == "approved" and body["consent_id"] == body["consent"]["id"]
    assert resp.headers["Location"] == f"/patient/v1/consents/{body['consent_id']}"
    assert body["consent"]["agreed_text"] == shown  # the very text the patient read
    assert body["consent"]["grantee"]["id"] == "cardiology"
    assert body["consent"]["period"]["end"]["iso"] == (consent.service.clock.now + timedelta(days=30)).isoformat()
    assert decision(client, mint) == "permit"
    stored = client.get(f"/patient/v1/consents/{body['consent_id']}", headers=patient(mint)).get_json()
    assert stored["agreed_text"] == shown
    kinds = [e["type"] for e in events(engine)]
    assert kinds == ["phr.consent.sharing-requested", "phr.consent.granted", "phr.consent.sharing-answered"]
    answered = events(engine)[-1]["data"]
    assert answered["answer"] == "approved" and answered["consent_id"] == body["consent_id"]
    assert answered["answered_by"] == {"kind": "patient", "id": "pat-1"}
    staff = client.get(f"/staff/v1/sharing-requests/{rid}", headers=clinician(mint)).get_json()
    assert staff["status"]["code"] == "approved" and staff["consent_id"] == body["consent_id"]
    assert staff["answered_by"] == {"kind": "patient", "id": "pat-1"}


def test_declining_grants_nothing_and_tells_the_department(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/decline", headers=patient(mint))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["status"]["code"] == "declined" and resp.get_json()["consent_text"] is None
    assert count(engine, consents) == 0 and decision(client, mint) == "deny"
    answered = events(engine)[-1]
    assert answered["type"] == "phr.consent.sharing-answered"
    assert answered["data"]["answer"] == "declined" and answered["data"]["consent_id"] is None


@pytest.mark.parametrize("first, second", [("approve", "approve"), ("approve", "decline"),
                                           ("decline", "approve"), ("decline", "decline")])
def test_answering_twice_is_a_409_that_changes_nothing(consent, mint, first, second):
    client, engine = consent
    rid = asked(client, mint)["id"]
    assert client.post(f"/patient/v1/sharing-requests/{rid}/{first}", headers=patient(mint)).status_code in (200, 201)
    before = (count(engine, consents), len(events(engine)))
    again = client.post(f"/patient/v1/sharing-requests/{rid}/{second}", headers=patient(mint))
    assert again.status_code == 409 and again.get_json()["next_step"]
    assert (count(engine, consents), len(events(engine))) == before


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_another_patients_request_is_not_found_and_not_listed(consent, mint, action):
    client, engine = consent
    rid = asked(client, mint)["id"]
    other = patient(mint, "pat-2")
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/{action}", headers=other)
    assert resp.status_code == 404 and resp.get_json()["next_step"]
    assert mine(client, other) == []
    assert client.post(f"/patient/v1/sharing-requests/nope/{action}", headers=patient(mint)).status_code == 404
    assert count(engine, consents) == 0 and len(events(engine)) == 1


def test_a_request_unanswered_for_thirty_days_expires_and_cannot_be_approved(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    consent.service.clock.now += timedelta(days=30)
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=patient(mint))
    assert resp.status_code == 409 and "no longer open" in resp.get_json()["detail"]
    (item,) = mine(client, patient(mint))
    assert item["status"]["code"] == "expired" and item["consent_text"] is None
    expired = client.get("/staff/v1/sharing-requests?status=expired", headers=clinician(mint)).get_json()
    assert [r["id"] for r in expired["items"]] == [rid]
    assert count(engine, consents) == 0
    assert ask(client, clinician(mint)).status_code == 201  # the same ask may be made again


def test_a_request_whose_department_was_disabled_cannot_be_approved(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    apply_directory(consent, directory_event("cardiology", status="disabled", version=2))
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=patient(mint))
    assert resp.status_code == 409
    assert mine(client, patient(mint))[0]["status"]["code"] == "expired"
    assert count(engine, consents) == 0


def test_an_approval_of_a_text_the_patient_did_not_read_is_a_409(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=patient(mint),
                       json={"text_sha256": "0" * 64})
    assert resp.status_code == 409 and resp.get_json()["next_step"] == "Read the new words, then answer again."
    assert count(engine, consents) == 0 and mine(client, patient(mint))[0]["status"]["code"] == "pending"


@pytest.mark.parametrize("body", [{"text_sha256": "nope"}, {"colour": "red"}, [1]])
def test_a_malformed_answer_is_a_422_that_changes_nothing(consent, mint, body):
    client, engine = consent
    rid = asked(client, mint)["id"]
    resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=patient(mint), json=body)
    assert resp.status_code == 422 and resp.get_json()["next_step"]
    assert count(engine, consents) == 0 and len(events(engine)) == 1


def test_a_caregiver_who_may_change_consents_answers_and_is_recorded(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    carer = patient(mint, act={"sub": "carer-7"})
    body = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=carer).get_json()
    assert body["consent"]["created_by"] == {"kind": "proxy", "id": "carer-7"}
    assert events(engine)[-1]["data"]["answered_by"] == {"kind": "proxy", "id": "carer-7"}


def test_a_caregiver_who_may_only_view_records_may_read_but_not_answer(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    viewer = mint.patient("pat-1", scope="patient/*.rs", act={"sub": "carer-8"})
    assert [r["id"] for r in mine(client, viewer)] == [rid]
    for action in ("approve", "decline"):
        assert client.post(f"/patient/v1/sharing-requests/{rid}/{action}", headers=viewer).status_code == 403
    assert count(engine, consents) == 0 and len(events(engine)) == 1


def test_the_patient_side_refuses_staff_department_and_missing_tokens(consent, mint):
    client, engine = consent
    rid = asked(client, mint)["id"]
    for headers in ({}, clinician(mint), department(mint, "cardiology", "system/*.cruds")):
        resp = client.post(f"/patient/v1/sharing-requests/{rid}/approve", headers=headers)
        assert resp.status_code in (401, 403) and resp.headers["Content-Type"] == "application/problem+json"
        assert client.get("/patient/v1/sharing-requests", headers=headers).status_code in (401, 403)
    assert count(engine, consents) == 0 and len(events(engine)) == 1


def test_the_worker_expires_a_disabled_departments_waiting_requests_for_good(consent, mint):
    from services.common.directory import TOPIC
    from services.consent.entrypoints.worker import directory_consumer

    class Letters:
        def __init__(self):
            self.sent = []

        def publish(self, topic, key, value, headers, timestamp_ms=None):
            self.sent.append(topic)

        def flush(self):
            pass

    client, engine = consent
    waiting = asked(client, mint)["id"]
    other = asked(client, mint, classes=["Procedure"])["id"]
    client.post(f"/patient/v1/sharing-requests/{other}/decline", headers=patient(mint))
    elsewhere = ask(client, clinician(mint, dept="primary-care"))
    consumer = directory_consumer(consent.service, Letters())
    disabled = directory_event("cardiology", status="disabled", version=2)
    assert consumer.handle(TOPIC, json.dumps(disabled).encode()) == "applied"
    assert consumer.handle(TOPIC, json.dumps(directory_event("cardiology", version=3)).encode()) == "applied"
    consent.service.directory.reload()
    with engine.connect() as conn:
        status = dict(conn.execute(sa.select(sharing_requests.c.id, sharing_requests.c.status)).all())
    assert status == {waiting: "expired", other: "declined", elsewhere.get_json()["id"]: "pending"}
    resp = client.post(f"/patient/v1/sharing-requests/{waiting}/approve", headers=patient(mint))
    assert resp.status_code == 409 and count(engine, consents) == 0
    assert ask(client, clinician(mint)).status_code == 201  # registered again, it may ask anew


def test_the_patient_reads_one_request_and_another_patients_is_not_found(consent, mint):
    client, _ = consent
    rid = asked(client, mint)["id"]
    one = client.get(f"/patient/v1/sharing-requests/{rid}", headers=patient(mint, locale="es"))
    assert one.status_code == 200 and one.headers["Content-Language"] == "es"
    assert one.get_json()["id"] == rid and one.get_json()["consent_text"]["language"] == "es"
    for who, rid_asked in (("pat-2", rid), ("pat-1", "nope")):
        missing = client.get(f"/patient/v1/sharing-requests/{rid_asked}", headers=patient(mint, who))
        assert missing.status_code == 404 and missing.get_json()["next_step"]
    assert client.get(f"/patient/v1/sharing-requests/{rid}", headers=clinician(mint)).status_code == 403
    assert client.get(f"/patient/v1/sharing-requests/{rid}").status_code == 401


def test_two_equal_requests_sent_at_once_store_one(consent, mint):
    import threading

    client, engine = consent
    app, statuses, start = client.application, [], threading.Barrier(4)

    def send(staff_id):
        start.wait()
        statuses.append(ask(app.test_client(), clinician(mint, staff_id=staff_id)).status_code)

    threads = [threading.Thread(target=send, args=(f"s-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert count(engine, sharing_requests) == 1 and len(events(engine)) == 1


def test_a_staff_token_naming_an_overlong_account_or_practitioner_is_refused(consent, mint):
    client, engine = consent
    assert ask(client, clinician(mint, staff_id="s" * 65)).status_code == 403
    assert ask(client, clinician(mint, fhirUser="Practitioner/" + "p" * 100)).status_code == 403
    assert count(engine, sharing_requests) == 0
