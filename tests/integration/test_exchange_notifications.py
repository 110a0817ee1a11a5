"""The patient's notifications: consent changes and break-the-glass, from consent events, in their language."""
import json

import pytest

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import processed_events
from services.exchange.service_layer.notify import NOTIFY_HANDLERS

PARTY = {"kind": "department", "id": "cardiology"}
ME = {"kind": "patient", "id": "p-1"}


@pytest.fixture
def world(exchange):
    """The exchange's client and its consumer of consent events (the notifications)."""
    consumer = IdempotentConsumer("exchange.notify", exchange.engine, processed_events, NOTIFY_HANDLERS, Letters())
    return exchange.client, consumer


def _events():
    return [
        new_event("phr.consent.granted", "/services/consent", "p-1", {
            "consent_id": "c-1", "patient": "p-1", "version": 1, "grantee": PARTY, "purposes": ["TREAT"],
            "classes": ["Observation"], "period": {"start": "2026-03-01T00:00:00+00:00", "end": None},
            "notify": False, "created_by": ME, "language": "es", "text_sha256": "0" * 64,
            "granted_at": "2026-03-01T00:00:00+00:00"}),
        new_event("phr.consent.break-glass", "/services/consent", "p-1", {
            "grant_id": "g-1", "patient": "p-1", "department": "emergency", "purpose": "ETREAT",
            "reason": "Unconscious on arrival", "granted_at": "2026-03-02T00:00:00+00:00",
            "expires_at": "2026-03-02T01:00:00+00:00", "obligations": [{"type": "notify"}]}),
        new_event("phr.consent.revoked", "/services/consent", "p-1", {
            "consent_id": "c-1", "patient": "p-1", "version": 2, "grantee": PARTY, "revoked_by": ME,
            "revoked_at": "2026-03-03T00:00:00+00:00"}),
    ]


def test_consent_changes_and_emergency_access_reach_the_patient_in_spanish_once_each(world, mint):
    client, consumer = world
    for event in _events():
        raw = json.dumps(event).encode()
        assert consumer.handle("phr.consent.v1", raw) == "applied"
        assert consumer.handle("phr.consent.v1", raw) == "duplicate"
    me = mint.patient("p-1", scope="patient/*.rs", sub="a-1", locale="es")
    page = client.get("/patient/v1/notifications", headers=me)
    assert page.status_code == 200 and page.headers["Content-Language"] == "es"
    items = page.get_json()["items"]
    assert len(items) == 3
    by_kind = {n["kind"]: n for n in items}
    assert by_kind["break-glass"]["message"].startswith("Urgencias abrió sus registros")
    assert by_kind["consent-revoked"]["message"] == "Cardiología ya no puede ver sus registros."
    assert "de" in by_kind["consent-granted"]["date"]["display"]


def test_an_unsupported_language_falls_back_to_english_and_offers_an_interpreter(world, mint):
    client, consumer = world
    consumer.handle("phr.consent.v1", json.dumps(_events()[0]).encode())
    me = mint.patient("p-1", scope="patient/*.rs", sub="a-1", locale="pt")
    body = client.get("/patient/v1/notifications", headers=me).get_json()
    assert body["language"]["fallback"] is True and body["language"]["interpreter"]["offered"] is True
    assert body["items"][0]["message"] == "You let Cardiology see some of your records."


@pytest.mark.parametrize("query, field", [("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=x", "limit"),
                                          ("?limit=%C2%B3", "limit"), ("?cursor=-1", "cursor"),
                                          ("?cursor=abc", "cursor"), ("?cursor=%C2%B3", "cursor")])
def test_a_page_out_of_range_is_a_422_that_names_the_field(world, mint, query, field):
    client, _consumer = world
    me = mint.patient("p-1", scope="patient/*.rs", sub="a-1")
    resp = client.get(f"/patient/v1/notifications{query}", headers=me)
    assert resp.status_code == 422
    assert resp.content_type.startswith("application/problem+json")
    assert resp.get_json()["fields"] == [field]


def test_a_department_token_cannot_read_a_patients_notifications(world, mint):
    client, _consumer = world
    assert client.get("/patient/v1/notifications", headers=mint.department("cardiology")).status_code == 403


@pytest.mark.parametrize("status,kind,spanish", [
    ("accepted", "amendment-accepted", "Aceptaron su pedido de corrección"),
    ("rejected", "amendment-rejected", "No aceptaron su pedido de corrección"),
    ("completed", "amendment-completed", "Corrigieron su registro"),
])
def test_the_outcome_of_a_correction_request_reaches_the_patient_in_their_language(world, mint, status, kind,
                                                                                    spanish):
    from services.exchange.service_layer.handlers import HANDLERS

    client, _ = world
    engine = client.application.extensions["exchange"].engine
    records_consumer = IdempotentConsumer("exchange.records-index", engine, processed_events, HANDLERS, Letters())
    event = new_event("phr.records.amendment-updated", "/services/records", "p-1", {
        "patient": "p-1", "custodian": "primary-care", "task": "Task/t-1", "record": "Condition/c-1",
        "status": status, "previous_status": "requested", "updated_at": "2026-03-04T00:00:00+00:00"})
    assert records_consumer.handle("phr.records.v1", json.dumps(event).encode()) == "applied"
    me = mint.patient("p-1", scope="patient/*.rs", sub="a-1", locale="es")
    items = client.get("/patient/v1/notifications", headers=me).get_json()["items"]
    assert [(i["kind"], i["title"]) for i in items] == [(kind, spanish)]
    assert items[0]["message"].startswith("Atención primaria ")


def test_a_status_change_that_is_not_an_outcome_tells_the_patient_nothing(world, mint):
    from services.exchange.service_layer.handlers import HANDLERS

    client, _ = world
    engine = client.application.extensions["exchange"].engine
    records_consumer = IdempotentConsumer("exchange.records-index", engine, processed_events, HANDLERS, Letters())
    event = new_event("phr.records.amendment-updated", "/services/records", "p-1", {
        "patient": "p-1", "custodian": "primary-care", "task": "Task/t-1", "record": "Condition/c-1",
        "status": "received", "previous_status": "requested", "updated_at": "2026-03-04T00:00:00+00:00"})
    assert records_consumer.handle("phr.records.v1", json.dumps(event).encode()) == "applied"
    me = mint.patient("p-1", scope="patient/*.rs", sub="a-1")
    assert client.get("/patient/v1/notifications", headers=me).get_json()["items"] == []
