"""Revocation receipts in the exchange service, on SQLite and PostgreSQL: a consent that ends
tells each department that received records under it (its inbox, and a signed webhook to a real
HTTP server when it registered one, retried until the server takes it), and the patient gets a
receipt naming each department told. Minted tokens; consent and records faked in memory."""
import base64
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from joserfc.errors import BadSignatureError

from gateway.authz.keys import webhook_key
from services.common.auth import RevocationFeed
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters, Pump
from services.exchange.adapters.receipt_repository import SqlNotices
from services.exchange.adapters.tables import department_notices, notifications, processed_events, webhook_attempts
from services.common.outbound import HostPolicy
from services.exchange.adapters.hooks import RestHook
from services.exchange.adapters.webhooks import HttpSender
from services.exchange.entrypoints.worker import directory_handlers, flow_handlers
from services.exchange.service_layer import receipts
from services.exchange.service_layer.flow import connections
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from tests.support.apps import Clock
from tests.support.webhooks import Receiver, tampered, verify

PATIENT = "p-1"
ASK = {"patient": PATIENT, "purpose": "TREAT", "resource_types": ["Observation", "Immunization"]}


@pytest.fixture
def receiver():
    server = Receiver(statuses=[503])
    yield server
    server.close()


@pytest.fixture
def world(exchange):
    service = exchange.service
    notify = IdempotentConsumer("exchange.notify", service.engine, processed_events,
                                receipts.notify_handlers(service.receipts, NOTIFY_HANDLERS), Letters())
    return exchange.client, service, Pump(service, service.records, flow_handlers(service)), notify


def _register_webhook(service, url, department="cardiology"):
    """The department's directory entry with a webhook URL, as the gateway's event carries it."""
    entry = {"department": department, "names": {"en": "Cardiology", "es": "Cardiología"}, "kind": "clinical",
             "may_claim_emergencies": False, "may_write_records": False, "status": "active", "version": 99,
             "changed_at": "2026-12-06T07:00:00+00:00", "webhook_url": url}
    handle = directory_handlers(service)["phr.directory.department-registered"]
    with service.engine.begin() as conn:
        handle(conn, new_event("phr.directory.department-registered", "/gateway", department, entry))


def _release(client, service, pump, mint, department="cardiology", patient=PATIENT):
    service.consent.permits[(patient, department)] = []
    resp = client.post("/exchange/v1/requests", json={**ASK, "patient": patient}, headers=mint.department(department))
    assert resp.status_code == 202
    pump.run()
    item = client.get(f"/exchange/v1/requests/{resp.get_json()['id']}", headers=mint.department(department))
    assert item.get_json()["status"] == "fulfilled"
    return item.get_json()


def _revoked(consent_id=None, kind="revoked", patient=PATIENT):
    """The consent service's event (FakeConsent permits on consent c-<patient>)."""
    moment = "2026-12-06T08:00:00+00:00"
    data = {"consent_id": consent_id or f"c-{patient}", "patient": patient, "version": 1,
            "grantee": {"kind": "department", "id": "cardiology"}}
    data.update({"revoked_by": {"kind": "patient", "id": PATIENT}, "revoked_at": moment} if kind == "revoked"
                else {"period_end": moment, "expired_at": moment})
    return new_event(f"phr.consent.{kind}", "/services/consent", patient, data)


def _sender(service, allow=("127.0.0.1",)) -> HttpSender:
    """The worker's sender under the outbound policy; ALLOW opens the tests' receivers on 127.0.0.1
    (SUBSCRIPTION_ENDPOINT_ALLOW)."""
    return HttpSender(RestHook(HostPolicy.from_settings(allow, service.settings.peers), timeout=5))


def _clinician(mint, dept="cardiology", **claims):
    return mint.staff(dept=dept, roles=("clinician",), **claims)


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_revoked_consent_tells_the_department_in_its_inbox_and_by_a_signed_webhook_retried_until_taken(
        world, mint, receiver):
    client, service, pump, notify = world
    _register_webhook(service, receiver.url)
    released = _release(client, service, pump, mint)
    assert notify.handle("phr.consent.v1", json.dumps(_revoked()).encode()) == "applied"

    clock = Clock()
    service.receipts.clock = clock
    connect, sender = connections(service.engine), _sender(service)
    assert service.receipts.deliver_due(connect, sender) == 1  # the receiver answers 503
    assert service.receipts.deliver_due(connect, sender) == 0, "the next try waits"
    clock.now += timedelta(seconds=2)
    assert service.receipts.deliver_due(connect, sender) == 1
    assert len(receiver.got) == 2 and receiver.got[0][1] == receiver.got[1][1], "a retry sends the same bytes"
    headers, body = receiver.got[1]
    assert headers["Content-Type"] == "application/jose"

    jwks = {"keys": list(webhook_key(service.settings.webhook_public_key_file))}  # what the gateway publishes
    payload = verify(jwks, body)
    assert payload["type"] == "consent-revoked" and payload["department"] == "cardiology"
    assert payload["consent"]["id"] == f"c-{PATIENT}" and payload["patient"] == PATIENT
    assert [r["request_id"] for r in payload["releases"]] == [released["id"]]
    assert headers["Idempotency-Key"] == payload["jti"]
    with pytest.raises(BadSignatureError):
        verify(jwks, tampered(body))
    head, _claims, signature = body.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**payload, "department": "emergency"}).encode()).decode().rstrip("=")
    with pytest.raises(BadSignatureError):
        verify(jwks, ".".join([head, forged, signature]))

    inbox = client.get("/staff/v1/inbox/notices", headers=_clinician(mint))
    assert inbox.status_code == 200, inbox.get_json()
    [item] = inbox.get_json()["items"]
    assert item["id"] == payload["jti"] and item["kind"] == "consent-revoked"
    assert item["text"].startswith("The patient stopped sharing records with Cardiology.")
    assert [r["request_id"] for r in item["releases"]] == [released["id"]]
    assert [r["display"] for r in item["releases"][0]["records"]] == ["Lab results", "Vaccines"]
    assert item["webhook"]["status"]["code"] == "delivered" and item["webhook"]["attempts"] == 2
    one = client.get(f"/staff/v1/inbox/notices/{item['id']}", headers={**_clinician(mint), "Accept-Language": "es"})
    assert one.status_code == 200 and one.headers["Content-Language"] == "es"
    assert [(t["status_code"], t["outcome"]) for t in one.get_json()["webhook"]["tries"]] == [
        (503, "failed"), (204, "delivered")]
    assert one.get_json()["title"] == "El paciente dejó de compartir"
    assert _count(service.engine, webhook_attempts) == 2


def test_the_patients_receipt_names_each_department_told_and_when_in_english_and_spanish(world, mint):
    client, service, pump, notify = world
    _release(client, service, pump, mint)
    _release(client, service, pump, mint, department="emergency")
    notify.handle("phr.consent.v1", json.dumps(_revoked()).encode())
    patient = mint.patient(PATIENT, sub="a-1")
    items = client.get("/patient/v1/notifications", headers=patient).get_json()["items"]
    receipt = next(i for i in items if i["kind"] == "receipt-revoked")
    assert receipt["message"] == ("You stopped sharing. We told Cardiology and Emergency. "
                                  "They got some of your records before.")
    assert [t["department"]["department"] for t in receipt["told"]] == ["cardiology", "emergency"]
    assert all(t["date"]["display"] for t in receipt["told"])
    assert any(i["kind"] == "consent-revoked" for i in items), "the consent's own notice stays"
    spanish = client.get("/patient/v1/notifications", headers={**patient, "Accept-Language": "es"}).get_json()
    receipt = next(i for i in spanish["items"] if i["kind"] == "receipt-revoked")
    assert "Cardiología" in receipt["message"] and receipt["told"][0]["department"]["display"] == "Cardiología"


def test_a_repeated_event_tells_nobody_twice_and_a_consent_without_releases_makes_no_receipt(world, mint):
    client, service, pump, notify = world
    _release(client, service, pump, mint)
    event = _revoked()
    notify.handle("phr.consent.v1", json.dumps(event).encode())
    notify.handle("phr.consent.v1", json.dumps(event).encode())  # the same event again
    notify.handle("phr.consent.v1", json.dumps(_revoked(kind="expired")).encode())  # an expiry that raced it
    assert _count(service.engine, department_notices) == 1, "one notice per department and consent"
    before = _count(service.engine, notifications)
    notify.handle("phr.consent.v1", json.dumps(_revoked(consent_id="c-nobody-used", kind="expired")).encode())
    assert _count(service.engine, department_notices) == 1
    assert _count(service.engine, notifications) == before + 1, "only the consent's own notice, no receipt"
    published = [e for e in pump.take() if e["type"] == "phr.exchange.departments-notified"]
    assert len(published) == 1 and published[0]["data"]["departments"][0]["department"] == "cardiology"


def test_an_expired_consent_tells_the_department_too(world, mint):
    client, service, pump, notify = world
    _release(client, service, pump, mint)
    notify.handle("phr.consent.v1", json.dumps(_revoked(kind="expired")).encode())
    [item] = client.get("/staff/v1/inbox/notices", headers=_clinician(mint)).get_json()["items"]
    assert item["kind"] == "consent-expired" and item["webhook"] is None


def test_another_departments_staff_see_no_notice_and_page_through_their_own(world, mint):
    client, service, pump, notify = world
    for n in range(3):
        _release(client, service, pump, mint, patient=f"p-{n}")
        notify.handle("phr.consent.v1", json.dumps(_revoked(patient=f"p-{n}")).encode())
    first = client.get("/staff/v1/inbox/notices?limit=2", headers=_clinician(mint)).get_json()
    assert len(first["items"]) == 2 and first["next"]
    rest = client.get(f"/staff/v1/inbox/notices?limit=2&cursor={first['next']}", headers=_clinician(mint)).get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    notice_id = first["items"][0]["id"]
    other = _clinician(mint, dept="emergency")
    assert client.get("/staff/v1/inbox/notices", headers=other).get_json()["items"] == []
    resp = client.get(f"/staff/v1/inbox/notices/{notice_id}", headers=other)
    assert resp.status_code == 404 and resp.content_type.startswith("application/problem+json")
    bad = client.get("/staff/v1/inbox/notices?cursor=not-a-cursor", headers=_clinician(mint))
    assert bad.status_code == 422
    privacy = mint.staff(dept="cardiology", roles=("privacy-officer",))
    assert client.get(f"/staff/v1/inbox/notices/{notice_id}", headers=privacy).status_code == 200


@pytest.mark.parametrize("path", ["/staff/v1/inbox/notices", "/staff/v1/inbox/notices/x"])
def test_a_token_without_the_notices_scope_is_refused(world, mint, path):
    client, _service, _pump, _notify = world
    refused = {
        "a department's system token": mint.department("cardiology"),
        "a patient's token": mint.patient(PATIENT, sub="a-1"),
        "a records officer": mint.staff(dept="cardiology", roles=("records-officer",)),
        "an administrator": mint.staff(dept="cardiology", roles=("admin",)),
    }
    for who, headers in refused.items():
        resp = client.get(path, headers=headers)
        assert resp.status_code == 403, who
        assert resp.content_type.startswith("application/problem+json"), who
    assert client.get(path).status_code == 401


def test_a_revoked_staff_token_is_refused(world, mint):
    client, _service, _pump, _notify = world
    headers = _clinician(mint)
    jti = json.loads(base64.urlsafe_b64decode(headers["Authorization"].split(".")[1] + "==="))["jti"]
    validator = client.application.extensions["token_validator"]
    validator.revocations = RevocationFeed("memory://", fetch=lambda _url, _etag: (None, {jti: int(time.time()) + 300}))
    try:
        resp = client.get("/staff/v1/inbox/notices", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["detail"] == "The access token was revoked."
        assert client.get("/staff/v1/inbox/notices", headers=_clinician(mint)).status_code == 200
    finally:
        validator.revocations.close()
        validator.revocations = None


def test_a_receiver_that_never_takes_the_notice_is_given_up_after_the_bound(world, mint):
    client, service, pump, notify = world
    server = Receiver(statuses=[500] * 20)
    try:
        _register_webhook(service, server.url)
        _release(client, service, pump, mint)
        notify.handle("phr.consent.v1", json.dumps(_revoked()).encode())
        clock = Clock()
        service.receipts.clock = clock
        connect, sender = connections(service.engine), _sender(service)
        for _ in range(15):
            service.receipts.deliver_due(connect, sender)
            clock.now += timedelta(minutes=6)
    finally:
        server.close()
    [item] = client.get("/staff/v1/inbox/notices", headers=_clinician(mint)).get_json()["items"]
    assert item["webhook"]["status"]["code"] == "failed" and item["webhook"]["attempts"] == 10
    assert len(server.got) == 10


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "169.254.169.254"])
def test_a_webhook_at_an_inside_address_not_allowed_is_never_contacted_and_the_inbox_tells_no_reason(
        world, mint, receiver, host):
    """A name is judged when it is resolved, at every try: localhost resolves inside, and with
    the allow list empty nothing is sent there; the inbox says only that the try failed."""
    client, service, pump, notify = world
    _register_webhook(service, receiver.url.replace("127.0.0.1", host))
    _release(client, service, pump, mint)
    notify.handle("phr.consent.v1", json.dumps(_revoked()).encode())
    clock = Clock()
    service.receipts.clock = clock
    assert service.receipts.deliver_due(connections(service.engine), _sender(service, allow=())) == 1
    assert receiver.got == [], "nothing reached the inside address"
    [item] = client.get("/staff/v1/inbox/notices", headers=_clinician(mint)).get_json()["items"]
    assert item["webhook"]["status"]["code"] == "pending" and item["webhook"]["attempts"] == 1
    one = client.get(f"/staff/v1/inbox/notices/{item['id']}", headers=_clinician(mint)).get_json()
    [tried] = one["webhook"]["tries"]
    assert tried["status_code"] is None and tried["outcome"] == "failed" and set(tried) == {
        "attempt", "at", "status_code", "outcome"}, "no error text, no status: the inbox is no probe"


def test_an_ended_consent_reads_only_its_own_ledger_entries(world, mint):
    client, service, pump, _notify = world
    _release(client, service, pump, mint)
    _release(client, service, pump, mint, department="emergency")
    _release(client, service, pump, mint, patient="p-2")
    with service.engine.connect() as conn:
        notices = SqlNotices(conn)
        mine = notices.consent_entries(PATIENT, f"c-{PATIENT}")
        assert sorted(e["recipient"] for e in mine) == ["cardiology", "emergency"]
        assert {e["consent_id"] for e in mine} == {f"c-{PATIENT}"}
        assert notices.consent_entries(PATIENT, "c-p-2") == [], "another patient's consent is not this patient's"
        assert notices.consent_entries(PATIENT, "c-nobody-used") == []
        assert [e["recipient"] for e in notices.consent_entries("p-2", "c-p-2")] == ["cardiology"]
