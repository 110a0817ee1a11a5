"""The exchange service and the directory of departments, on the real databases: a department
registered at runtime exchanges records and the patient reads its name in their language; a
department disabled with a request pending gets it denied (department-disabled) once, in words,
and its token refused. The directory's events go through the worker's own consumer."""
import json

import pytest
import sqlalchemy as sa

from contracts.events import problems
from services.common.consumer import IdempotentConsumer
from services.common.directory import TOPIC
from services.exchange.adapters.fakes import Letters, Pump
from services.exchange.adapters.tables import exchange_requests, ledger, notifications, outbox, processed_events
from services.exchange.entrypoints.worker import directory_handlers, flow_handlers
from tests.support.directory import event

PATIENT = "p-1"
ASK = {"patient": PATIENT, "purpose": "TREAT", "resource_types": ["Observation"]}
HEART = {"en": "Heart clinic East", "es": "Clínica del corazón Este"}


@pytest.fixture
def world(exchange):
    """The exchange's client and service, its directory consumer, and a pump for its flow."""
    service = exchange.service
    # The app reads its copy of the directory again at most a second after the worker changed
    # it (services/common/directory.py); here at every question, so the test need not wait.
    service.directory.refresh_seconds = 0
    consumer = IdempotentConsumer("exchange.directory", exchange.engine, processed_events,
                                  directory_handlers(service), Letters())
    return exchange.client, service, consumer, Pump(service, service.records, flow_handlers(service))


def _apply(consumer, directory_event: dict) -> str:
    return consumer.handle(TOPIC, json.dumps(directory_event).encode())


def _ask(client, headers) -> str:
    resp = client.post("/exchange/v1/requests", json=ASK, headers=headers)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def _request(engine, request_id: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(exchange_requests).where(exchange_requests.c.id == request_id)).one()


def _outbox(engine, event_type: str) -> list[dict]:
    with engine.connect() as conn:
        events = [json.loads(p) for p in conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.seq)).scalars()]
    return [e for e in events if e["type"] == event_type]


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _notices(client, mint, lang: str) -> list[dict]:
    me = mint.patient(PATIENT, scope="patient/*.rs", sub="acct-1")
    page = client.get("/patient/v1/notifications", headers={**me, "Accept-Language": lang})
    assert page.status_code == 200 and page.headers["Content-Language"] == lang
    return page.get_json()["items"]


def test_a_department_registered_at_runtime_exchanges_and_the_patient_reads_its_name_in_their_language(
        world, mint):
    client, service, directory, pump = world
    heart = mint.department("heart-east")
    assert client.post("/exchange/v1/requests", json=ASK, headers=heart).status_code == 401, "not registered yet"
    assert client.get("/readyz").get_json()["facts"] == {"departments": 5}
    assert _apply(directory, event("heart-east", names=HEART)) == "applied"
    assert client.get("/readyz").get_json()["facts"] == {"departments": 6}
    service.consent.permits[(PATIENT, "heart-east")] = []
    request_id = _ask(client, heart)
    pump.run()
    assert client.get(f"/exchange/v1/requests/{request_id}", headers=heart).get_json()["status"] == "fulfilled"
    for lang, name in HEART.items():
        notes = _notices(client, mint, lang)
        assert [n["kind"] for n in notes] == ["disclosure"] and notes[0]["message"].startswith(f"{name} ")
        me = mint.patient(PATIENT, scope="patient/*.rs", sub="acct-1")
        disclosure = client.get("/patient/v1/disclosures", headers={**me, "Accept-Language": lang}).get_json()
        assert disclosure["items"][0]["recipient"] == {"department": "heart-east", "display": name}


def test_disabling_a_department_denies_its_pending_request_once_in_words_and_refuses_its_token(world, mint):
    client, service, directory, pump = world
    cardiology, emergency = mint.department("cardiology"), mint.department("emergency")
    service.consent.permits[(PATIENT, "cardiology")] = []
    request_id = _ask(client, cardiology)
    pump.run(drop_fetches=True)  # decided; records' reply is still on its way
    assert _request(service.engine, request_id).step == "fetch"
    others = _ask(client, emergency)  # another department's request, pending too

    closing = event("cardiology", status="disabled", version=2)
    assert _apply(directory, closing) == "applied"
    row = _request(service.engine, request_id)
    assert (row.status, row.outcome) == ("denied", "department-disabled")
    assert _request(service.engine, others).status == "pending"
    denied = _outbox(service.engine, "phr.exchange.denied")
    assert [(e["data"]["request_id"], e["data"]["reason_code"]) for e in denied] == [
        (request_id, "department-disabled")]
    assert problems(denied[0]) == []
    assert [(n["kind"], n["title"], n["message"]) for n in _notices(client, mint, "es")] == [(
        "department-disabled", "Se detuvo un pedido de sus registros",
        "Cardiología pidió sus registros. Se cerró antes de recibirlos, así que no se compartió nada.")]
    assert _notices(client, mint, "en")[0]["message"] == (
        "Cardiology asked for your records. It was closed before it got them, so nothing was shared.")

    # The same event again, or as a new delivery with another id: nothing more happens.
    assert _apply(directory, closing) == "duplicate"
    assert _apply(directory, {**closing, "id": "replayed-1"}) == "applied"
    assert len(_outbox(service.engine, "phr.exchange.denied")) == 1 and _count(service.engine, notifications) == 1
    # records' late reply releases nothing
    pump.deliver(pump.records.reply({"data": {"request_id": request_id, "patient": PATIENT}}))
    assert _request(service.engine, request_id).outcome == "department-disabled"
    assert _count(service.engine, ledger) == 0

    for path in (f"/exchange/v1/requests/{request_id}", "/exchange/v1/ledger/verify"):
        refused = client.get(path, headers=cardiology)
        assert refused.status_code == 401 and refused.content_type.startswith("application/problem+json")
    assert client.post("/exchange/v1/requests", json=ASK, headers=cardiology).status_code == 401
    assert _count(service.engine, exchange_requests) == 2, "a refused request stores nothing"

    # An older entry (the registration, version 1) arriving late changes nothing.
    assert _apply(directory, event("cardiology", version=1)) == "applied"
    assert client.get(f"/exchange/v1/requests/{request_id}", headers=cardiology).status_code == 401

    # Enabled again (a later version), the department reads why, in its language.
    assert _apply(directory, event("cardiology", version=3)) == "applied"
    status = client.get(f"/exchange/v1/requests/{request_id}",
                        headers={**cardiology, "Accept-Language": "es"}).get_json()
    assert status["status"] == "denied" and status["outcome"] == {
        "code": "department-disabled",
        "text": "Este departamento se cerró en el directorio, así que no se entregó nada."}


def test_an_older_disabling_event_changes_nothing(world, mint):
    client, service, directory, _pump = world
    emergency = mint.department("emergency")
    request_id = _ask(client, emergency)
    # The copy holds emergency at version 1 already: a disabling entry of that version is stale.
    assert _apply(directory, event("emergency", status="disabled", version=1)) == "applied"
    assert _request(service.engine, request_id).status == "pending"
    assert _outbox(service.engine, "phr.exchange.denied") == []
    assert client.get(f"/exchange/v1/requests/{request_id}", headers=emergency).status_code == 200


def test_a_request_stored_just_after_its_department_was_disabled_is_denied_before_consent_is_asked(world):
    _client, service, directory, pump = world
    _apply(directory, event("research", status="disabled", version=2))
    # Its token was checked a moment before the disabling event was kept; the request is
    # stored after that event looked for pending requests.
    with service.uow() as uow:
        request_id = service.flow.submit(uow, PATIENT, "research", "HRESCH", ["Observation"], None)["id"]
    pump.run()
    assert _request(service.engine, request_id).outcome == "department-disabled"
    assert service.consent.calls == [], "no decision is asked for a department that is not active"
    denied = _outbox(service.engine, "phr.exchange.denied")
    assert [e["data"]["reason_code"] for e in denied] == ["department-disabled"] and problems(denied[0]) == []
