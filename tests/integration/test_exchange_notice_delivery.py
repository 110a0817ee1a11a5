"""Notices outside the app: addresses proved with a code, a channel per topic, and delivery by a
real SMTP server (aiosmtpd) and a real webhook receiver, with retries and a record per attempt."""
import datetime as dt
import json
import re
import time

import pytest
import sqlalchemy as sa

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import notice_attempts, notice_contacts, notice_deliveries, outbox
from services.exchange.adapters.tables import processed_events
from services.exchange.service_layer.delivery import DELIVERY_HANDLERS
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from tests.support.mail import MailServer, SmsReceiver

PATH = "/patient/v1/notification-preferences"
WRITE = "patient/*.rs patient/Communication.u"
REASON = "Unconscious on arrival, suspected overdose"


@pytest.fixture
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture
def sms():
    with SmsReceiver(token="hook-secret") as receiver:
        yield receiver


@pytest.fixture
def world(service_apps, database_url, mail, sms):
    """The exchange with a real SMTP server and a real webhook receiver, retries 10 ms apart."""
    exchange = service_apps.exchange(database_url, smtp_url=mail.url, notify_from="notices@phr.example.org",
                                     sms_webhook_url=sms.url, sms_webhook_token="hook-secret",
                                     portal_url="https://portal.example.org", notify_retry_first_seconds=0.01,
                                     notify_retry_longest_seconds=0.01, notify_max_attempts=4)
    return exchange


def _me(mint, patient="p-1", sub="a-1", scope=WRITE, **claims):
    return mint.patient(patient, scope=scope, sub=sub, locale="es", **claims)


def _code(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def _confirmed_email(client, mail, headers, address="ana@example.org") -> str:
    added = client.post(f"{PATH}/addresses", json={"channel": "email", "address": address}, headers=headers)
    assert added.status_code == 201, added.get_json()
    code = _code(mail.wait_for(address)[-1].get_body(("plain",)).get_content())
    done = client.post(f"{PATH}/addresses/{added.get_json()['id']}/verify", json={"code": code}, headers=headers)
    assert done.status_code == 200 and done.get_json()["verified"] is True
    return added.get_json()["id"]


def _break_glass(exchange, patient="p-1", grant="g-1"):
    """The consent service's break-the-glass event, through the exchange's notice consumer."""
    consumer = IdempotentConsumer("exchange.notify", exchange.engine, processed_events, NOTIFY_HANDLERS, Letters())
    event = new_event("phr.consent.break-glass", "/services/consent", patient, {
        "grant_id": grant, "patient": patient, "department": "emergency", "purpose": "ETREAT",
        "reason": REASON, "granted_at": "2026-03-02T00:00:00+00:00",
        "expires_at": "2026-03-02T01:00:00+00:00", "obligations": [{"type": "notify"}]})
    assert consumer.handle("phr.consent.v1", json.dumps(event).encode()) == "applied"


def _relay_notices(exchange) -> int:
    """What the outbox relay and the broker would do: hand each phr.notify.v1 event to the
    delivery consumer (twice: the second changes nothing)."""
    consumer = IdempotentConsumer("exchange.delivery", exchange.engine, processed_events, DELIVERY_HANDLERS,
                                  Letters())
    with exchange.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.payload).where(outbox.c.topic == "phr.notify.v1")).all()
    for row in rows:
        consumer.handle("phr.notify.v1", row.payload.encode())
        assert consumer.handle("phr.notify.v1", row.payload.encode()) == "duplicate"
    return len(rows)


def _sweep(exchange, rounds=1):
    """ROUNDS passes of the delivery thread, each after the 10 ms backoff."""
    for _ in range(rounds):
        exchange.service.deliverer.sweep(lambda write=False: exchange.service.uow(write=write))
        time.sleep(0.02)


def _deliveries(exchange):
    with exchange.engine.connect() as conn:
        return conn.execute(sa.select(notice_deliveries)).all()


def test_a_spanish_patient_who_chose_email_gets_one_spanish_email_without_health_information(world, mail, mint):
    client, me = world.client, _me(mint)
    _confirmed_email(client, mail, me)
    chosen = client.put(PATH, json={"choices": {"emergency": "email"}}, headers=me)
    assert chosen.status_code == 200
    assert {t["topic"]: t["channel"] for t in chosen.get_json()["topics"]}["emergency"] == "email"
    _break_glass(world)
    assert _relay_notices(world) == 1
    _sweep(world)
    received = mail.wait_for("ana@example.org", 2)  # the code, then the notice
    notice = received[-1]
    assert notice["Content-Language"] == "es" and notice["From"] == "notices@phr.example.org"
    plain = notice.get_body(("plain",)).get_content()
    html = notice.get_body(("html",)).get_content()
    assert "Se abrió su registro en una emergencia" in plain and "https://portal.example.org/portal/notifications" in plain
    assert '<html lang="es">' in html and "<h1>" in html
    for secret in ("Urgencias", "emergency", "overdose", "sobredosis", "Unconscious", "p-1", "ETREAT"):
        assert secret not in plain and secret not in html and secret not in notice["Subject"]
    (delivery,) = _deliveries(world)
    assert (delivery.status, delivery.attempts, delivery.channel) == ("delivered", 1, "email")
    page = client.get("/patient/v1/notifications", headers=me).get_json()["items"]
    assert page[0]["delivery"][0]["status"] == "delivered" and page[0]["delivery_text"] == "Se le envió por correo electrónico."
    # a caregiver reading the same list sees how it reached them: only in the app
    caregiver = client.get("/patient/v1/notifications", headers=_me(mint, act={"sub": "c-9"})).get_json()["items"]
    assert caregiver[0]["delivery"] == [] and caregiver[0]["delivery_text"] == "Se muestra solo aquí."


def test_an_smtp_server_that_refuses_twice_gets_the_notice_on_the_third_try_and_only_once(world, mail, mint):
    client, me = world.client, _me(mint)
    _confirmed_email(client, mail, me)
    client.put(PATH, json={"choices": {"emergency": "email"}}, headers=me)
    _break_glass(world)
    _relay_notices(world)
    mail.refuse_next(2)
    _sweep(world, rounds=8)  # every due try; the backoff is 10 ms here
    assert mail.inbox.refused == 2
    assert len(mail.wait_for("ana@example.org", 2)) == 2  # the code and one notice
    (delivery,) = _deliveries(world)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    with world.engine.connect() as conn:
        tries = conn.execute(sa.select(notice_attempts).order_by(notice_attempts.c.attempt)).all()
    assert [t.outcome for t in tries] == ["failed", "failed", "delivered"]
    assert tries[0].detail.startswith("451")
    _sweep(world, rounds=3)
    assert len(mail.to("ana@example.org")) == 2


def test_a_delivery_that_never_gets_through_is_dead_after_the_bound_and_dead_lettered(world, mail, mint):
    client, me = world.client, _me(mint)
    _confirmed_email(client, mail, me)
    client.put(PATH, json={"choices": {"emergency": "email"}}, headers=me)
    _break_glass(world)
    _relay_notices(world)
    mail.refuse_next(10)
    _sweep(world, rounds=8)
    (delivery,) = _deliveries(world)
    assert (delivery.status, delivery.attempts) == ("dead", 4)
    with world.engine.connect() as conn:
        letters = conn.execute(sa.select(outbox.c.payload).where(outbox.c.topic == "phr.notify.v1.dlq")).all()
    assert [json.loads(r.payload)["data"]["notification_id"] for r in letters] == [delivery.notification_id]
    page = client.get("/patient/v1/notifications", headers=me).get_json()["items"]
    assert page[0]["delivery"][0]["status"] == "dead"


def test_a_text_message_goes_through_the_webhook_without_health_information(world, mail, sms, mint):
    client, me = world.client, _me(mint)
    added = client.post(f"{PATH}/addresses", json={"channel": "sms", "address": "+34 600 123 456"}, headers=me)
    assert added.status_code == 201 and added.get_json()["address"] == "+34600123456"
    code = _code(sms.wait_for("+34600123456")[-1]["text"])
    assert client.post(f"{PATH}/addresses/{added.get_json()['id']}/verify", json={"code": code},
                       headers=me).status_code == 200
    assert client.put(PATH, json={"choices": {"emergency": "sms", "record-seen": "sms"}},
                      headers=me).status_code == 200
    _break_glass(world)
    _relay_notices(world)
    _sweep(world)
    body = sms.wait_for("+34600123456", 2)[-1]
    assert body["language"] == "es" and "Inicie sesión" in body["text"] and "Urgencias" not in body["text"]
    assert sms.headers[-1]["Authorization"] == "Bearer hook-secret"
    assert sms.headers[-1]["Idempotency-Key"] == body["id"]


def test_nothing_is_sent_to_an_address_that_was_not_confirmed(world, mail, mint):
    client, me = world.client, _me(mint)
    added = client.post(f"{PATH}/addresses", json={"channel": "email", "address": "ana@example.org"}, headers=me)
    assert added.status_code == 201
    refused = client.put(PATH, json={"choices": {"emergency": "email"}}, headers=me)
    assert refused.status_code == 422 and refused.get_json()["fields"] == ["emergency"]
    _break_glass(world)
    _relay_notices(world)
    assert _deliveries(world) == []


def test_a_wrong_code_is_refused_counted_and_after_five_even_the_right_one_fails(world, mail, mint):
    client, me = world.client, _me(mint)
    added = client.post(f"{PATH}/addresses", json={"channel": "email", "address": "ana@example.org"}, headers=me)
    code = _code(mail.wait_for("ana@example.org")[-1].get_body(("plain",)).get_content())
    wrong = "000000" if code != "000000" else "111111"
    url = f"{PATH}/addresses/{added.get_json()['id']}/verify"
    for _ in range(5):
        refused = client.post(url, json={"code": wrong}, headers=me)
        assert refused.status_code == 422 and refused.headers["Content-Type"] == "application/problem+json"
    assert client.post(url, json={"code": code}, headers=me).status_code == 422
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(notice_contacts.c.verified_at)).scalar() is None
    resend = f"{PATH}/addresses/{added.get_json()['id']}/resend"
    too_soon = client.post(resend, headers=me)
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"] == "60"
    with world.engine.begin() as conn:  # as if the code had been sent two minutes ago
        expires = conn.execute(sa.select(notice_contacts.c.code_expires_at)).scalar()
        conn.execute(notice_contacts.update().values(code_expires_at=expires - dt.timedelta(minutes=2)))
    resent = client.post(resend, headers=me)
    assert resent.status_code == 200
    fresh = _code(mail.wait_for("ana@example.org", 2)[-1].get_body(("plain",)).get_content())
    assert client.post(url, json={"code": fresh}, headers=me).status_code == 200


def test_adding_the_same_kind_of_address_again_within_a_minute_sends_no_second_code(world, mail, mint):
    client, me = world.client, _me(mint)
    assert client.post(f"{PATH}/addresses", json={"channel": "email", "address": "ana@example.org"},
                       headers=me).status_code == 201
    again = client.post(f"{PATH}/addresses", json={"channel": "email", "address": "someone@example.org"}, headers=me)
    assert again.status_code == 429 and again.headers["Content-Type"] == "application/problem+json"
    assert [a["address"] for a in client.get(PATH, headers=me).get_json()["addresses"]] == ["ana@example.org"]
    assert mail.to("someone@example.org") == []


def test_another_person_cannot_see_confirm_or_remove_my_address(world, mail, mint):
    client, me = world.client, _me(mint)
    address_id = _confirmed_email(client, mail, me)
    others = {"another patient": _me(mint, patient="p-2", sub="a-2"),
              "a caregiver of mine (their own addresses)": _me(mint, sub="a-1", act={"sub": "c-9"})}
    for who, headers in others.items():
        assert client.get(PATH, headers=headers).get_json()["addresses"] == [], who
        assert client.delete(f"{PATH}/addresses/{address_id}", headers=headers).status_code == 404, who
        assert client.post(f"{PATH}/addresses/{address_id}/verify", json={"code": "123456"},
                           headers=headers).status_code == 404, who
    assert client.get(PATH, headers=me).get_json()["addresses"][0]["verified"] is True


def test_reading_or_changing_them_needs_the_communication_write_scope_and_a_patient_token(world, mint):
    client = world.client
    read_only = _me(mint, scope="patient/*.rs")  # what a patient's own app may hold
    for method, url, body in (("get", PATH, None), ("put", PATH, {"choices": {"emergency": "in-app"}}),
                              ("post", f"{PATH}/addresses", {"channel": "email", "address": "a@example.org"})):
        resp = getattr(client, method)(url, json=body, headers=read_only)
        assert resp.status_code == 403 and resp.headers["Content-Type"] == "application/problem+json"
    department = mint.department("cardiology", scope="system/*.cruds")
    assert client.get(PATH, headers=department).status_code == 403
    assert client.get(PATH).status_code == 401


def test_broken_and_oversized_bodies_are_refused_and_change_nothing(world, mint):
    client, me = world.client, _me(mint)
    for body in ({"choices": {"emergency": "pigeon"}}, {"choices": {"weather": "email"}}, {"choices": {}},
                 {"choices": "email"}, {}):
        resp = client.put(PATH, json=body, headers=me)
        assert resp.status_code == 422 and resp.headers["Content-Type"] == "application/problem+json", body
    for body in ({"channel": "email", "address": "not an address"}, {"channel": "sms", "address": "600123456"},
                 {"channel": "fax", "address": "+34600123456"}):
        assert client.post(f"{PATH}/addresses", json=body, headers=me).status_code == 422, body
    assert client.post(f"{PATH}/addresses", data="{not json", content_type="application/json",
                       headers=me).status_code in (400, 422)
    huge = client.put(PATH, data=json.dumps({"choices": {"emergency": "email" + " " * 200_000}}),
                      content_type="application/json", headers=me)
    assert huge.status_code == 413
    state = client.get(PATH, headers=me).get_json()
    assert state["addresses"] == [] and {t["channel"] for t in state["topics"]} == {"in-app"}


def test_the_emergency_and_record_seen_topics_say_they_can_never_be_switched_off(world, mint):
    topics = world.client.get(PATH, headers=_me(mint)).get_json()["topics"]
    assert {t["topic"] for t in topics if t["always_in_app"]} == {"emergency", "record-seen"}


def test_a_caregiver_the_patient_stopped_gets_no_more_notices(world, mail, mint):
    client, caregiver = world.client, _me(mint, act={"sub": "c-9"})
    _confirmed_email(client, mail, caregiver, address="carer@example.org")
    assert client.put(PATH, json={"choices": {"emergency": "email"}}, headers=caregiver).status_code == 200
    _break_glass(world, grant="g-1")
    _relay_notices(world)
    _sweep(world)
    assert len(mail.wait_for("carer@example.org", 2)) == 2  # the code, then the first notice
    consumer = IdempotentConsumer("exchange.delivery", world.engine, processed_events, DELIVERY_HANDLERS, Letters())
    ended = new_event("phr.accounts.proxy-ended", "/gateway", "p-1", {
        "patient": "p-1", "grant_id": "grant-1", "ended_at": "2026-03-02T00:00:00+00:00", "reason": "revoked",
        "caregiver": "c-9"})
    assert consumer.handle("phr.accounts.v1", json.dumps(ended).encode()) == "applied"
    assert client.get(PATH, headers=caregiver).get_json()["addresses"] == []
    _break_glass(world, grant="g-2")
    _relay_notices(world)
    _sweep(world, rounds=3)
    assert len(mail.to("carer@example.org")) == 2
