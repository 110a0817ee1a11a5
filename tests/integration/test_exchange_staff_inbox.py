"""A department's clinicians: their department's exchange requests with the reason and the next
step in words, asking for records as the department does (who asked is kept), on SQLite and
PostgreSQL, with minted staff tokens."""
import json
import time
from datetime import datetime

import pytest
import sqlalchemy as sa

from services.common.auth import RevocationFeed
from services.exchange.adapters.fakes import Pump
from services.exchange.adapters.tables import exchange_requests, outbox
from services.exchange.entrypoints.worker import flow_handlers

PATIENT = "p-1"
ASK = {"patient": PATIENT, "purpose": "TREAT", "resource_types": ["Observation", "Immunization"],
       "reason": "Chest pain"}


@pytest.fixture
def world(exchange):
    service = exchange.service
    return exchange.client, service, Pump(service, service.records, flow_handlers(service))


def _clinician(mint, dept="cardiology", staff_id="s-1", **claims):
    return mint.staff(dept=dept, roles=("clinician",), staff_id=staff_id, **claims)


def _ask(client, headers, body=ASK):
    resp = client.post("/staff/v1/requests", json=body, headers=headers)
    assert resp.status_code == 202, resp.get_json()
    return resp


def _count(engine, table=exchange_requests):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_clinicians_request_keeps_who_asked_and_its_event_carries_them(world, mint):
    client, exchange, pump = world
    resp = _ask(client, _clinician(mint))
    request_id = resp.get_json()["id"]
    assert resp.headers["Location"].endswith(f"/staff/v1/requests/{request_id}")
    events = pump.run()
    assert events[0]["type"] == "phr.exchange.requested"
    assert events[0]["data"]["requester"] == "cardiology"
    assert events[0]["data"]["requested_by"] == {"sub": "s-1", "fhirUser": "Practitioner/s-1"}
    item = client.get(f"/staff/v1/requests/{request_id}", headers=_clinician(mint, staff_id="s-2")).get_json()
    assert item["requested_by"] == {"sub": "s-1", "fhirUser": "Practitioner/s-1"}
    assert exchange.consent.calls[0][1] == "cardiology", "the same flow: consent decides for the department"


def test_a_denial_names_what_was_not_shared_and_with_whom_and_says_to_ask_the_patient(world, mint):
    client, _exchange, pump = world
    request_id = _ask(client, _clinician(mint)).get_json()["id"]
    pump.run()
    item = client.get(f"/staff/v1/requests/{request_id}", headers=_clinician(mint)).get_json()
    assert item["status"] == "denied" and item["outcome"]["code"] == "no-consent"
    assert item["outcome"]["text"] == ("The patient has not agreed to share these records with you "
                                       "for this purpose.")
    assert item["next_step"] == {
        "code": "ask-patient-to-share",
        "text": "The patient has not shared lab results and vaccines with Cardiology. You can ask them to share.",
        "patient": PATIENT, "classes": ["Observation", "Immunization"], "purpose": "TREAT",
        "exchange_request": request_id}
    spanish = client.get(f"/staff/v1/requests/{request_id}",
                         headers={**_clinician(mint), "Accept-Language": "es"})
    assert spanish.headers["Content-Language"] == "es"
    step = spanish.get_json()["next_step"]
    assert step["code"] == "ask-patient-to-share"
    assert step["text"].startswith("El paciente no ha compartido análisis de laboratorio y vacunas con Cardiología.")
    assert [r["display"] for r in spanish.get_json()["records"]] == ["Análisis de laboratorio", "Vacunas"]


def test_a_pending_request_says_wait_a_failed_one_try_again_and_a_released_one_nothing(world, mint):
    client, exchange, pump = world
    pending = _ask(client, _clinician(mint)).get_json()["id"]
    item = client.get(f"/staff/v1/requests/{pending}", headers=_clinician(mint)).get_json()
    assert (item["status"], item["next_step"]["code"]) == ("pending", "wait")
    pump.run()
    exchange.consent.permits[(PATIENT, "cardiology")] = []
    released = _ask(client, _clinician(mint)).get_json()["id"]
    pump.run()
    item = client.get(f"/staff/v1/requests/{released}", headers=_clinician(mint)).get_json()
    assert (item["status"], item["next_step"]["code"]) == ("fulfilled", "none")
    assert set(item["next_step"]) == {"code", "text"}
    exchange.consent.down = True
    failed = _ask(client, _clinician(mint)).get_json()["id"]
    with exchange.uow() as uow:  # past the deadline: the sweeper fails it closed
        req = uow.requests.get(failed)
        uow.requests.change(failed, created_at=req.created_at.replace(year=2000))
        exchange.flow.advance(uow, uow.requests.get(failed, lock=True))
    item = client.get(f"/staff/v1/requests/{failed}", headers=_clinician(mint)).get_json()
    assert (item["status"], item["outcome"]["code"]) == ("failed", "consent-unavailable")
    assert item["next_step"] == {"code": "try-again", "text": "A service did not answer, so nothing was "
                                                             "shared. Try again in a few minutes."}


def test_the_inbox_holds_the_departments_requests_newest_first_in_pages(world, mint):
    client, _exchange, _pump = world
    mine = [_ask(client, _clinician(mint, staff_id=f"s-{i}")).get_json()["id"] for i in range(3)]
    system = client.post("/exchange/v1/requests", json=ASK, headers=mint.department("cardiology"))
    assert system.status_code == 202, "a department's system token works on /exchange/v1 as before"
    _ask(client, _clinician(mint, dept="emergency"))
    first = client.get("/staff/v1/inbox?limit=3", headers=_clinician(mint))
    assert first.status_code == 200
    page = first.get_json()
    assert page["items"][0]["id"] == system.get_json()["id"] and page["items"][0]["requested_by"] is None
    second = client.get(f"/staff/v1/inbox?limit=3&cursor={page['next']}", headers=_clinician(mint)).get_json()
    assert second["next"] is None
    ids = [i["id"] for i in page["items"] + second["items"]]
    assert ids == [system.get_json()["id"], *reversed(mine)]
    # RFC 3339 date-times, as the contract says: with their offset, on SQLite too (it keeps none)
    for item in page["items"] + second["items"]:
        for moment in (item["requested_at"], item["updated_at"]):
            assert datetime.fromisoformat(moment).utcoffset() is not None, moment


def test_another_departments_staff_do_not_find_the_request(world, mint):
    client, _exchange, _pump = world
    request_id = _ask(client, _clinician(mint)).get_json()["id"]
    resp = client.get(f"/staff/v1/requests/{request_id}", headers=_clinician(mint, dept="emergency"))
    assert resp.status_code == 404 and resp.content_type.startswith("application/problem+json")
    assert client.get("/staff/v1/inbox", headers=_clinician(mint, dept="emergency")).get_json()["items"] == []
    assert client.get("/staff/v1/requests/no-such-id", headers=_clinician(mint)).status_code == 404


@pytest.mark.parametrize("method, path", [("get", "/staff/v1/inbox"), ("post", "/staff/v1/requests"),
                                          ("get", "/staff/v1/requests/x")])
def test_a_token_without_the_clinicians_scope_is_refused(world, mint, method, path):
    client, exchange, _pump = world
    refused = {
        "a department's system token": mint.department("cardiology"),
        "a patient's token": mint.patient(PATIENT, sub="a-1"),
        "a privacy officer": mint.staff(dept="cardiology", roles=("privacy-officer",)),
        "a records officer": mint.staff(dept="cardiology", roles=("records-officer",)),
        "an administrator": mint.staff(dept="cardiology", roles=("admin",)),
    }
    for who, headers in refused.items():
        resp = getattr(client, method)(path, json=ASK, headers=headers)
        assert resp.status_code == 403, who
        assert resp.content_type.startswith("application/problem+json"), who
    assert getattr(client, method)(path, json=ASK).status_code == 401
    assert _count(exchange.engine) == 0 and _count(exchange.engine, outbox) == 0


def test_a_clinicians_token_does_not_work_as_a_departments_system_token(world, mint):
    client, exchange, _pump = world
    assert client.post("/exchange/v1/requests", json=ASK, headers=_clinician(mint)).status_code == 403
    assert _count(exchange.engine) == 0


@pytest.mark.parametrize("body, status", [
    ("not json", 422), ("[1, 2]", 422), ('"text"', 422),
    (json.dumps({**ASK, "extra": 1}), 422),
    (json.dumps({**ASK, "purpose": "FUN"}), 422),
    (json.dumps({"patient": PATIENT}), 422),
    (json.dumps({**ASK, "reason": "x" * 100_000}), 413),
])
def test_a_broken_body_is_a_problem_that_stores_nothing(world, mint, body, status):
    client, exchange, _pump = world
    resp = client.post("/staff/v1/requests", data=body, content_type="application/json",
                       headers=_clinician(mint))
    assert resp.status_code == status, resp.get_json()
    assert resp.content_type.startswith("application/problem+json")
    assert _count(exchange.engine) == 0 and _count(exchange.engine, outbox) == 0


def test_a_revoked_staff_token_is_refused(world, mint):
    client, _exchange, _pump = world
    headers = _clinician(mint)
    jti = json.loads(__import__("base64").urlsafe_b64decode(
        headers["Authorization"].split(".")[1] + "==="))["jti"]
    validator = client.application.extensions["token_validator"]
    validator.revocations = RevocationFeed("memory://", fetch=lambda _url, _etag: (None, {jti: int(time.time()) + 300}))
    try:
        resp = client.get("/staff/v1/inbox", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
        assert client.get("/staff/v1/inbox", headers=_clinician(mint)).status_code == 200
    finally:
        validator.revocations.close()
        validator.revocations = None
