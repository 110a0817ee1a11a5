"""The exchange flow on a real database, with the consent and records peers faked in memory."""

import pytest
import sqlalchemy as sa

from services.exchange.adapters.fakes import Pump
from services.exchange.adapters.tables import exchange_requests, ledger, notifications
from services.exchange.entrypoints.worker import flow_handlers

PATIENT = "p-1"
ASK = {"patient": PATIENT, "purpose": "TREAT", "resource_types": ["Observation"], "reason": "Chest pain"}


@pytest.fixture
def world(exchange):
    """The exchange's client, service, fake consent, and a pump that runs its flow to the end."""
    service = exchange.service
    return exchange.client, service, service.consent, Pump(service, service.records, flow_handlers(service))


def _ask(client, mint, dept="cardiology", body=ASK):
    resp = client.post("/exchange/v1/requests", json=body, headers=mint.department(dept))
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_consented_request_is_fulfilled_written_in_the_ledger_and_downloadable(world, mint):
    client, exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = [{"type": "redact", "labels": ["PSY"]}, {"type": "audit"}]
    request_id = _ask(client, mint)
    assert client.get(f"/exchange/v1/requests/{request_id}",
                      headers=mint.department("cardiology")).get_json()["status"] == "pending"
    events = pump.run()
    # the flow's events, then the patient's notice of the release on its way to delivery
    assert [e["type"] for e in events] == ["phr.exchange.requested", "phr.records.fetch", "phr.exchange.fulfilled",
                                           "phr.notify.added"]
    assert events[1]["data"]["redact_labels"] == ["PSY"]
    status = client.get(f"/exchange/v1/requests/{request_id}", headers=mint.department("cardiology")).get_json()
    assert status["status"] == "fulfilled" and status["outcome"]["code"] == "released"
    assert status["redacted"] == {"labels": ["PSY"], "count": 1} and status["ledger_seq"] == 1
    assert len(consent.calls) == 2, "one decision before the fetch, a fresh one before the release"
    bundle = client.get(status["bundle"], headers=mint.department("cardiology"))
    assert bundle.status_code == 200 and bundle.get_json()["resourceType"] == "Bundle"
    assert consent.calls[-1][4] is not None, "the download decision is made with the caller's token"
    assert _count(exchange.engine, ledger) == 1 and _count(exchange.engine, notifications) == 1
    verdict = client.get("/exchange/v1/ledger/verify", headers=mint.department("cardiology")).get_json()
    assert verdict["valid"] and verdict["entries"] == 1


def test_a_request_without_consent_is_denied_with_the_reason_in_words(world, mint):
    client, exchange, _consent, pump = world
    request_id = _ask(client, mint)
    assert [e["type"] for e in pump.run()] == ["phr.exchange.requested", "phr.exchange.denied"]
    status = client.get(f"/exchange/v1/requests/{request_id}",
                        headers={**mint.department("cardiology"), "Accept-Language": "es"}).get_json()
    assert status["status"] == "denied" and status["outcome"]["code"] == "no-consent"
    assert "paciente" in status["outcome"]["text"]
    assert client.get(f"/exchange/v1/requests/{request_id}/bundle",
                      headers=mint.department("cardiology")).status_code == 409
    assert _count(exchange.engine, ledger) == 0


def test_another_department_sees_neither_the_status_nor_the_bundle(world, mint):
    client, _exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = []
    request_id = _ask(client, mint)
    pump.run()
    for path in (f"/exchange/v1/requests/{request_id}", f"/exchange/v1/requests/{request_id}/bundle"):
        assert client.get(path, headers=mint.department("research")).status_code == 404


def test_a_broken_request_body_is_a_422_naming_the_fields(world, mint):
    client, _exchange, _consent, _pump = world
    resp = client.post("/exchange/v1/requests", headers=mint.department("cardiology"),
                       json={"patient": PATIENT, "purpose": "FUN", "resource_types": []})
    assert resp.status_code == 422 and resp.get_json()["fields"] == ["purpose", "resource_types"]
    resp = client.post("/exchange/v1/requests", headers={"Authorization": mint.department()["Authorization"]
                                                         .replace("Bearer ", "Bearer x")}, json=ASK)
    assert resp.status_code == 401


def test_a_consent_revoked_between_the_decision_and_the_release_releases_nothing(world, mint):
    client, exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = []
    request_id = _ask(client, mint)
    pump.run(drop_fetches=True)  # decided, fetch asked; the records' reply is still on its way
    del consent.permits[(PATIENT, "cardiology")]  # the patient revokes now
    with exchange.engine.connect() as conn:
        step = conn.execute(sa.select(exchange_requests.c.step)).scalar()
    assert step == "fetch"
    pump.deliver(pump.records.reply({"data": {"request_id": request_id, "patient": PATIENT}}))
    status = client.get(f"/exchange/v1/requests/{request_id}", headers=mint.department("cardiology")).get_json()
    assert status["status"] == "denied" and status["outcome"]["code"] == "consent-withdrawn"
    assert _count(exchange.engine, ledger) == 0


def test_a_consent_revoked_after_the_release_refuses_the_download(world, mint):
    client, _exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = []
    request_id = _ask(client, mint)
    pump.run()
    del consent.permits[(PATIENT, "cardiology")]
    resp = client.get(f"/exchange/v1/requests/{request_id}/bundle", headers=mint.department("cardiology"))
    assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"


def test_a_duplicate_reply_from_records_changes_nothing(world, mint):
    client, exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = []
    request_id = _ask(client, mint)
    pump.run()
    again = pump.records.reply({"data": {"request_id": request_id, "patient": PATIENT}})
    assert pump.deliver(again) == "applied"  # a new event id, the same request: ignored by state
    assert _count(exchange.engine, ledger) == 1


def test_the_patient_reads_their_disclosures_and_notifications_in_spanish(world, mint):
    client, _exchange, consent, pump = world
    consent.permits[(PATIENT, "cardiology")] = []
    _ask(client, mint)
    pump.run()
    patient = mint.patient(PATIENT, scope="patient/*.rs", sub="acct-1", locale="es")
    page = client.get("/patient/v1/disclosures", headers=patient)
    assert page.status_code == 200 and page.headers["Content-Language"] == "es"
    item = page.get_json()["items"][0]
    assert item["recipient"] == {"department": "cardiology", "display": "Cardiología"}
    assert item["purpose"]["code"] == "TREAT" and item["consent"]["id"] == f"c-{PATIENT}"
    assert "Cardiología" in item["summary"] and item["withheld"]["count"] == 1
    english = client.get("/patient/v1/disclosures", headers={**patient, "Accept-Language": "en"}).get_json()
    assert english["items"][0]["summary"] == "Cardiology got 3 of your records to treat you."
    notes = client.get("/patient/v1/notifications", headers=patient).get_json()
    assert [n["kind"] for n in notes["items"]] == ["disclosure"]
    other = mint.patient("p-2", scope="patient/*.rs", sub="acct-2")
    assert client.get("/patient/v1/disclosures", headers=other).get_json()["items"] == []
