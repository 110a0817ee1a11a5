"""A department's request that the patient share records, and the patient's answer, reach the
patient's notifications (phr.consent.sharing-requested, phr.consent.sharing-answered), once each,
in their language; on SQLite and PostgreSQL."""
import json

import pytest

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import processed_events
from services.exchange.service_layer.notify import NOTIFY_HANDLERS

PATIENT = "p-1"


@pytest.fixture
def world(exchange):
    consumer = IdempotentConsumer("exchange.notify", exchange.engine, processed_events, NOTIFY_HANDLERS, Letters())
    return exchange.client, consumer


def _deliver(consumer, event):
    raw = json.dumps(event).encode()
    assert consumer.handle("phr.consent.v1", raw) == "applied"
    assert consumer.handle("phr.consent.v1", raw) == "duplicate"


def _asked(request_id="sr-1"):
    return new_event("phr.consent.sharing-requested", "/services/consent", PATIENT, {
        "request_id": request_id, "patient": PATIENT, "department": "cardiology",
        "requested_by": {"sub": "s-1", "fhirUser": "Practitioner/s-1"},
        "classes": ["Observation", "Immunization"], "purposes": ["TREAT"], "period": {"days": 30},
        "reason": "To plan your heart care.", "exchange_request": None,
        "created_at": "2026-03-01T08:00:00+00:00"})


def _answered(answer, request_id="sr-1"):
    return new_event("phr.consent.sharing-answered", "/services/consent", PATIENT, {
        "request_id": request_id, "patient": PATIENT, "department": "cardiology", "answer": answer,
        "consent_id": "c-1" if answer == "approved" else None, "answered_at": "2026-03-02T08:00:00+00:00",
        "answered_by": {"kind": "patient", "id": PATIENT}})


def test_a_sharing_request_tells_the_patient_who_asks_for_what_and_why(world, mint):
    client, consumer = world
    _deliver(consumer, _asked())
    items = client.get("/patient/v1/notifications", headers=mint.patient(PATIENT, sub="a-1")).get_json()["items"]
    assert [(i["kind"], i["title"], i["message"]) for i in items] == [(
        "sharing-requested", "A request to share your records",
        "Cardiology asks you to share lab results and vaccines to treat you. Open the portal to answer.")]
    spanish = client.get("/patient/v1/notifications", headers=mint.patient(PATIENT, sub="a-1", locale="es"))
    assert spanish.get_json()["items"][0]["message"] == (
        "Cardiología le pide que comparta análisis de laboratorio y vacunas para tratarle. "
        "Abra el portal para responder.")


@pytest.mark.parametrize("answer, kind, message", [
    ("approved", "sharing-approved", "You agreed to share your records with Cardiology."),
    ("declined", "sharing-declined", "You said no to sharing your records with Cardiology."),
])
def test_the_answer_to_a_sharing_request_is_told_to_the_patient(world, mint, answer, kind, message):
    client, consumer = world
    _deliver(consumer, _asked())
    _deliver(consumer, _answered(answer))
    items = client.get("/patient/v1/notifications", headers=mint.patient(PATIENT, sub="a-1")).get_json()["items"]
    assert [(i["kind"], i["message"]) for i in items][0] == (kind, message)
    assert [i["kind"] for i in items] == [kind, "sharing-requested"]
    assert client.get("/patient/v1/notifications", headers=mint.patient("p-2", sub="a-2")).get_json()["items"] == []
