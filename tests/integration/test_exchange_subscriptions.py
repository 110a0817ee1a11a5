"""Consent-filtered subscriptions on a real database: the FHIR Subscription API of the exchange
(with its refusals), and deliveries to a real HTTP receiver decided by the real consent service
(in process, its own database)."""
from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.common.db import transaction
from services.common.envelope import new_event
from services.exchange.adapters import hooks
from services.exchange.adapters.hooks import RestHook
from services.exchange.adapters.peers import ConsentClient, PeerUnavailable
from services.exchange.adapters.tables import ledger, subscription_deliveries, subscriptions
from services.exchange.domain.subscriptions import PAYLOAD_CONTENT, HostPolicy
from services.exchange.service_layer import subscriptions as layer
from services.exchange.service_layer.flow import connections
from tests.support.hooks import Receiver

PATIENT = "pat-sub-1"
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def subscription(endpoint: str, criteria: str = f"Observation?patient=Patient/{PATIENT}", **channel) -> dict:
    return {"resourceType": "Subscription", "status": "requested", "reason": "New lab results for follow-up",
            "criteria": criteria,
            "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
                        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
                        **channel}}


# -- the API --------------------------------------------------------------------------------------

@pytest.fixture
def api(service_apps, database_url):
    return service_apps.exchange(database_url, subscription_endpoint_allow=("127.0.0.1",))


def _problem(resp) -> bool:
    """A problem+json body, or (on /fhir, as the client asked) the same as application/fhir+json."""
    return resp.content_type.split(";")[0] in ("application/problem+json", "application/fhir+json")


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _create(client, mint, body, dept="cardiology", scope="system/Subscription.cd system/*.rs"):
    return client.post("/fhir/Subscription", json=body, headers={**mint.department(dept, scope), **FHIR})


def test_a_department_subscribes_reads_searches_and_deletes_its_own(api, mint):
    client, _engine = api
    me = mint.department("cardiology", "system/Subscription.cd system/*.rs")
    # Made whether or not the patient shares with cardiology (nothing goes out without a permit).
    created = _create(client, mint, subscription("http://127.0.0.1:9/hook", header=["Authorization: Bearer s3cret"]))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert created.content_type == "application/fhir+json" and body["status"] == "active"
    assert created.headers["Location"].endswith(f"/fhir/Subscription/{body['id']}")
    assert body["channel"]["header"] == ["Authorization: ***"], "a receiver's secret is never shown back"
    assert "s3cret" not in created.get_data(as_text=True)
    read = client.get(f"/fhir/Subscription/{body['id']}", headers=me)
    assert read.status_code == 200 and read.get_json()["criteria"] == f"Observation?patient=Patient/{PATIENT}"
    found = client.get(f"/fhir/Subscription?patient=Patient/{PATIENT}", headers=me).get_json()
    assert found["type"] == "searchset" and [e["resource"]["id"] for e in found["entry"]] == [body["id"]]
    assert client.delete(f"/fhir/Subscription/{body['id']}", headers=me).status_code == 204
    assert client.get(f"/fhir/Subscription/{body['id']}", headers=me).status_code == 404
    assert client.get("/fhir/Subscription", headers=me).get_json()["total"] == 0


def test_another_departments_subscription_is_not_found_to_read_or_delete(api, mint):
    client, _engine = api
    sub_id = _create(client, mint, subscription("http://127.0.0.1:9/hook")).get_json()["id"]
    other = mint.department("emergency", "system/Subscription.cd system/*.rs")
    for resp in (client.get(f"/fhir/Subscription/{sub_id}", headers=other),
                 client.delete(f"/fhir/Subscription/{sub_id}", headers=other)):
        assert resp.status_code == 404 and resp.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Subscription", headers=other).get_json()["total"] == 0
    mine = client.get(f"/fhir/Subscription/{sub_id}", headers=mint.department("cardiology", "system/*.rs"))
    assert mine.status_code == 200 and mine.get_json()["status"] == "active"


@pytest.mark.parametrize("who", ["no scope", "read only", "a patient's app"])
def test_without_the_scope_or_as_a_patient_nothing_is_made(api, mint, who):
    client, engine = api
    headers = {"no scope": mint.department("cardiology", "system/Exchange.cr"),
               "read only": mint.department("cardiology", "system/*.rs"),
               "a patient's app": mint.patient(PATIENT, scope="patient/*.cruds")}[who]
    resp = client.post("/fhir/Subscription", json=subscription("http://127.0.0.1:9/hook"),
                       headers={**headers, **FHIR})
    assert resp.status_code == 403 and _problem(resp)
    assert _count(engine, subscriptions) == 0


def test_without_a_token_nothing_is_made(api):
    client, engine = api
    assert client.post("/fhir/Subscription", json=subscription("http://127.0.0.1:9/hook"),
                       headers=FHIR).status_code == 401
    assert _count(engine, subscriptions) == 0


BAD = {
    "another resource": ({"resourceType": "Patient"}, "Subscription.resourceType"),
    "no reason": ({"reason": ""}, "Subscription.reason"),
    "criteria on two params": ({"criteria": f"Observation?patient={PATIENT}&code=1234"}, "Subscription.criteria"),
    "criteria without patient": ({"criteria": "Observation?code=1234"}, "Subscription.criteria"),
    "criteria on an unknown type": ({"criteria": f"Spaceship?patient={PATIENT}"}, "Subscription.criteria"),
    "criteria on a bad id": ({"criteria": "Observation?patient=Patient/../x"}, "Subscription.criteria"),
    "a websocket channel": ({"channel": {"type": "websocket", "endpoint": "ws://127.0.0.1:9/"}},
                            "Subscription.channel.type"),
    "no channel": ({"channel": None}, "Subscription.channel"),
    "full resources": ({"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook",
                                    "payload": "application/fhir+json",
                                    "_payload": {"extension": [{"url": PAYLOAD_CONTENT,
                                                                "valueCode": "full-resource"}]}}},
                       "Subscription.channel.payload"),
    "an xml payload": ({"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook",
                                    "payload": "application/fhir+xml"}}, "Subscription.channel.payload"),
    "a reserved header": ({"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook",
                                       "header": ["Host: elsewhere"]}}, "Subscription.channel.header[0]"),
    "an end without a zone": ({"end": "2030-01-01T00:00:00"}, "Subscription.end"),
}
ENDPOINTS = {
    "ftp": "ftp://127.0.0.1/hook",
    "no scheme": "127.0.0.1:9/hook",
    "credentials in the URL": "http://user:pass@127.0.0.1:9/hook",
    "a private network not allowed": "http://10.0.0.1/hook",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "ipv6 loopback": "http://[::1]:9/hook",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_wrong_subscription_is_a_422_operation_outcome_naming_the_element(api, mint, case):
    client, engine = api
    change, expression = BAD[case]
    resp = _create(client, mint, {**subscription("http://127.0.0.1:9/hook"), **change})
    body = resp.get_json()
    assert resp.status_code == 422 and _problem(resp), body
    assert body["resourceType"] == "OperationOutcome"
    assert expression in [e for issue in body["issue"] for e in issue["expression"]]
    assert _count(engine, subscriptions) == 0


@pytest.mark.parametrize("case", sorted(ENDPOINTS))
def test_an_endpoint_that_is_not_http_or_points_inside_is_refused(api, mint, case):
    client, engine = api
    resp = _create(client, mint, subscription(ENDPOINTS[case]))
    assert resp.status_code == 422, resp.get_json()
    assert "Subscription.channel.endpoint" in [e for i in resp.get_json()["issue"] for e in i["expression"]]
    assert _count(engine, subscriptions) == 0


def test_an_endpoint_at_one_of_the_platforms_own_services_is_refused_even_on_an_allowed_address(api, mint):
    client, engine = api
    settings = client.application.config["SETTINGS"]
    for name in ("gateway", "consent", "records", "exchange"):
        resp = _create(client, mint, subscription(settings.peers[name] + "/anything"))
        assert resp.status_code == 422, (name, resp.get_json())
    assert _count(engine, subscriptions) == 0


def test_an_oversized_or_malformed_body_is_refused_and_nothing_is_made(api, mint):
    client, engine = api
    headers = {**mint.department("cardiology", "system/Subscription.cd"), **FHIR}
    big = {**subscription("http://127.0.0.1:9/hook"), "reason": "x" * (70 * 1024)}
    too_large = client.post("/fhir/Subscription", data=json.dumps(big), headers=headers)
    assert too_large.status_code == 413 and _problem(too_large)
    broken = client.post("/fhir/Subscription", data=b"{not json", headers=headers)
    assert broken.status_code == 400 and broken.get_json()["resourceType"] == "OperationOutcome"
    listed = client.post("/fhir/Subscription", json=[subscription("http://127.0.0.1:9/hook")], headers=headers)
    assert listed.status_code == 422
    assert _count(engine, subscriptions) == 0


def test_a_search_with_other_parameters_or_a_bad_count_is_a_400(api, mint):
    client, _engine = api
    me = mint.department("cardiology", "system/*.rs")
    assert client.get("/fhir/Subscription?status=active", headers=me).status_code == 400
    assert client.get("/fhir/Subscription?_count=0", headers=me).status_code == 400
    assert client.get("/fhir/Subscription?_count=abc", headers=me).status_code == 400


# -- deliveries, decided by the real consent service --------------------------------------------

class _Answer:
    def __init__(self, resp):
        self.status_code, self.text, self._json = resp.status_code, resp.get_data(as_text=True), resp.get_json()

    def json(self):
        return self._json


class InProcess:
    """A requests-like session that sends to a Flask app's test client (no sockets)."""

    def __init__(self, client):
        self.client, self.lock = client, threading.Lock()

    def post(self, url, json=None, headers=None, timeout=None):
        with self.lock:
            return _Answer(self.client.post("/" + url.split("/", 3)[3], json=json, headers=headers))


@pytest.fixture
def world(service_apps, database_url, mint, receiver):
    consent = service_apps.consent(decision_clients=("exchange-service",)).client
    token = mint.token(scope="system/Consent.r", sub="exchange-service", client_id="exchange-service")
    decisions = ConsentClient("http://consent.invalid", lambda: token, session=InProcess(consent))
    exchange = service_apps.exchange(database_url, consent=decisions, subscription_endpoint_allow=("127.0.0.1",))
    patient = mint.patient(PATIENT, scope="patient/Consent.cruds patient/*.rs", sub="acc-1")
    return consent, exchange, patient


def _grant(consent, patient, classes=("Observation",)) -> str:
    granted = consent.post("/patient/v1/consents", headers=patient, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": list(classes)})
    assert granted.status_code == 201, granted.get_json()
    return granted.get_json()["id"]


def _subscribe(exchange, mint, url, **channel) -> str:
    resp = _create(exchange.client, mint, subscription(url, **channel))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _imported(exchange, *resources) -> dict:
    """Hand the exchange a phr.records.imported as its records consumer would."""
    event = new_event("phr.records.imported", "/services/records", PATIENT, {
        "patient": PATIENT, "custodian": "primary-care", "resource_count": len(resources),
        "resource_types": {"Observation": len(resources)}, "imported_at": "2026-12-06T07:00:00+00:00",
        "demographics": {}, "resources": [{"type": t, "id": i, "labels": list(labels)} for t, i, labels in resources]})
    with transaction(exchange.engine) as conn:
        exchange.service.subscriptions.on_imported(conn, event)
    return event


def _deliver(exchange) -> int:
    return exchange.service.subscriptions.deliver_due(connections(exchange.engine))


def _deliveries(exchange) -> list:
    with exchange.engine.connect() as conn:
        return conn.execute(sa.select(subscription_deliveries)).all()


def _ledger(exchange) -> list[dict]:
    with exchange.engine.connect() as conn:
        return [json.loads(r.entry) for r in conn.execute(sa.select(ledger.c.entry).order_by(ledger.c.seq))]


def test_under_consent_the_endpoint_gets_the_new_ids_only_and_the_ledger_names_them(world, mint, receiver):
    consent, exchange, patient = world
    consent_id = _grant(consent, patient)
    sub_id = _subscribe(exchange, mint, receiver.url, header=["Authorization: Bearer s3cret"])
    _imported(exchange, ("Observation", "obs-1", ()), ("Observation", "obs-2", ()), ("Condition", "c-1", ()))
    _deliver(exchange)
    [got] = receiver.got
    assert got["headers"]["Authorization"] == "Bearer s3cret" and got["path"] == "/hook"
    assert got["headers"]["Content-Type"] == "application/fhir+json"
    bundle = got["body"]
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history"
    status = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
    assert status["subscription"]["valueReference"]["reference"].endswith(f"/Subscription/{sub_id}")
    assert status["type"]["valueCode"] == "event-notification"
    assert receiver.ids() == ["obs-1", "obs-2"]
    assert all("resource" not in e for e in bundle["entry"][1:]), "ids only, never the content"
    [entry] = _ledger(exchange)
    assert entry["recipient"] == "cardiology" and entry["channel"] == "subscription"
    assert entry["consent_id"] == consent_id and entry["outcome"] == "delivered"
    assert entry["resources"] == ["Observation/obs-1", "Observation/obs-2"] and entry["subscription_id"] == sub_id
    assert [d.status for d in _deliveries(exchange)] == ["sent"]
    # The patient reads it like any other release, in words.
    seen = exchange.client.get("/patient/v1/disclosures", headers=mint.patient(PATIENT, scope="patient/*.rs"))
    assert seen.status_code == 200 and seen.get_json()["items"][0]["recipient"]["department"] == "cardiology"


def test_the_same_import_event_twice_owes_one_notification(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    event = _imported(exchange, ("Observation", "obs-1", ()))
    with transaction(exchange.engine) as conn:
        exchange.service.subscriptions.on_imported(conn, event)
    _deliver(exchange)
    _deliver(exchange)
    assert len(receiver.got) == 1 and len(_ledger(exchange)) == 1


def test_without_consent_nothing_is_sent_nor_written(world, mint, receiver):
    _consent, exchange, _patient = world
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("withheld", "no-consent")]


def test_a_consent_to_other_kinds_of_record_sends_nothing(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient, classes=("Condition",))
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []


def test_the_id_of_a_sensitive_record_the_consent_keeps_back_is_not_sent(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)  # does not name PSY
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()), ("Observation", "obs-psy", ("PSY",)))
    _imported(exchange, ("Observation", "obs-psy-2", ("PSY",)))
    _deliver(exchange)
    assert receiver.ids() == ["obs-1"] and len(receiver.got) == 1
    [entry] = _ledger(exchange)
    assert "PSY" in entry["redacted_labels"] and entry["redacted_count"] == 1
    assert sorted((d.status, d.outcome) for d in _deliveries(exchange)) == [("sent", "delivered"),
                                                                          ("withheld", "nothing-to-tell")]


def test_after_a_revoke_records_imported_later_are_not_told(world, mint, receiver):
    # Sequential: the decision after the revoke is a plain deny. The race itself (a permit given
    # before the revoke, acted on after it returned) is the next test.
    consent, exchange, patient = world
    consent_id = _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    started = time.monotonic()
    assert consent.delete(f"/patient/v1/consents/{consent_id}", headers=patient).status_code == 200
    assert time.monotonic() - started >= 0.3, "the revoke answers only after its settle time"
    _imported(exchange, ("Observation", "obs-2", ()))
    _deliver(exchange)
    assert receiver.ids() == ["obs-1"] and len(_ledger(exchange)) == 1


class RevokeAfterThePermit:
    """The exchange's consent client, but right after the permit of the last decision (step 3 of
    service_layer/subscriptions.py's module doc) the patient revokes, and the delivery acts on that
    permit only once the revoke has returned: the worst case the settle rule must answer."""

    def __init__(self, real, revoke):
        self.real, self.revoke, self.answers, self.revoked_at = real, revoke, [], None

    def decide(self, *args):
        answer = self.real.decide(*args)
        self.answers.append(answer.get("decision"))
        if len(self.answers) == 2:
            self.revoked_at = self.revoke()
        return answer


def test_a_permit_given_before_the_revoke_is_not_acted_on_after_the_revoke_returned(world, mint, receiver):
    consent, exchange, patient = world
    consent_id = _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))

    def revoke() -> float:
        assert consent.delete(f"/patient/v1/consents/{consent_id}", headers=patient).status_code == 200
        return time.time()

    subs = exchange.service.subscriptions
    racing = subs.consent = RevokeAfterThePermit(subs.consent, revoke)
    _deliver(exchange)
    assert racing.answers == ["permit", "permit"] and racing.revoked_at is not None, "the window was not raced"
    assert receiver.got == [] and _ledger(exchange) == [], "a notification started on a permit the revoke ended"
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("pending", "permit-too-late")]
    _deliver(exchange)  # asked again: the consent is gone now
    assert receiver.got == [] and _ledger(exchange) == []
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("withheld", "no-consent")]


def test_a_permit_that_came_too_late_to_act_on_sends_nothing_and_asks_again(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    subs = exchange.service.subscriptions
    ticks = iter([0.0, 10.0])  # the question sent at 0 s, the check after the permit at 10 s
    subs.monotonic = lambda: next(ticks)
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("pending", "permit-too-late")]
    subs.monotonic = time.monotonic
    _deliver(exchange)
    assert receiver.ids() == ["obs-1"]


def test_an_endpoint_that_refuses_is_tried_again_and_each_attempt_is_in_the_ledger(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    receiver.status = 503
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    [d] = _deliveries(exchange)
    assert (d.status, d.outcome, d.http_status) == ("pending", "not-accepted", 503)
    assert [e["outcome"] for e in _ledger(exchange)] == ["not-accepted"], "the ids left: it is a disclosure"
    receiver.status = 200
    with transaction(exchange.engine) as conn:  # due now rather than after the back-off
        conn.execute(subscription_deliveries.update().values(next_attempt_at=sa.func.now()))
    _deliver(exchange)
    assert [e["outcome"] for e in _ledger(exchange)] == ["not-accepted", "delivered"]
    assert len(receiver.got) == 2


def test_late_permits_and_consent_outages_do_not_use_up_the_endpoints_attempts(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    subs = exchange.service.subscriptions
    late = subs.max_attempts
    ticks = iter([0.0, 10.0] * late)  # each permit checked 10 s after its question was sent
    subs.monotonic = lambda: next(ticks)
    for _ in range(late):
        _deliver(exchange)
    [d] = _deliveries(exchange)
    assert (d.status, d.outcome, d.late_permits, d.failures) == ("pending", "permit-too-late", late, 0)
    subs.monotonic = time.monotonic
    real, subs.consent = subs.consent, Unavailable()
    for _ in range(2):  # consent does not answer: tried again, not counted against the endpoint
        with transaction(exchange.engine) as conn:
            conn.execute(subscription_deliveries.update().values(next_attempt_at=sa.func.now()))
        _deliver(exchange)
    [d] = _deliveries(exchange)
    assert (d.status, d.outcome, d.failures) == ("pending", "consent: PeerUnavailable", 0)
    subs.consent = real
    with transaction(exchange.engine) as conn:
        conn.execute(subscription_deliveries.update().values(next_attempt_at=sa.func.now()))
    receiver.status = 503
    _deliver(exchange)
    [d] = _deliveries(exchange)
    assert (d.status, d.outcome, d.failures) == ("pending", "not-accepted", 1), "one failure is not the last"


class Unavailable:
    """A consent service that does not answer."""

    def decide(self, *args):
        raise PeerUnavailable("consent is down")


class Trickler:
    """An endpoint that reads the request, then answers one byte every 0.2 s, for ever: no
    socket operation ever waits long enough to time out."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.stop, self.requests = threading.Event(), 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        with conn:
            conn.recv(65536)
            self.requests += 1
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self.stop.wait(0.2):
                    conn.sendall(b"a")
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def trickler():
    t = Trickler()
    yield t
    t.close()


def test_a_send_to_an_endpoint_that_trickles_ends_at_its_deadline(trickler):
    assert hooks.DEADLINE <= layer.CLAIM_SECONDS / 4, "a send must end well before its claim runs out"
    hook = RestHook(HostPolicy(allowed=(ipaddress.ip_network("127.0.0.1/32"),)), timeout=5.0, deadline=1.0)
    outcome = {}

    def send():
        opened = hook.open(trickler.url)
        try:
            outcome["status"] = opened.send(b"{}", {"Content-Type": "application/fhir+json"})
        except OSError as exc:
            outcome["error"] = exc
        finally:
            opened.close()

    started = time.monotonic()
    sending = threading.Thread(target=send, daemon=True)
    sending.start()
    sending.join(timeout=10)
    assert not sending.is_alive(), "the send still hangs on the trickling endpoint"
    assert isinstance(outcome.get("error"), TimeoutError) and time.monotonic() - started < 3


def test_a_delivery_to_a_trickling_endpoint_is_an_endpoint_failure_and_does_not_stall(world, mint, trickler):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, trickler.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    subs = exchange.service.subscriptions
    subs.hook = RestHook(subs.policy, deadline=1.0)
    delivering = threading.Thread(target=_deliver, args=(exchange,), daemon=True)
    delivering.start()
    delivering.join(timeout=15)
    assert not delivering.is_alive(), "the delivery thread still hangs on the trickling endpoint"
    [d] = _deliveries(exchange)
    assert (d.status, d.outcome, d.failures, d.http_status) == ("pending", "not-accepted", 1, None)
    assert [e["outcome"] for e in _ledger(exchange)] == ["not-accepted"], "its ids went out: a disclosure"


def _as_the_department_reads_it(exchange, mint, sub_id) -> tuple[bytes, bytes]:
    me = mint.department("cardiology", "system/*.rs")
    read = exchange.client.get(f"/fhir/Subscription/{sub_id}", headers=me)
    found = exchange.client.get(f"/fhir/Subscription?patient=Patient/{PATIENT}", headers=me)
    assert read.status_code == 200 and found.status_code == 200
    return read.get_data(), found.get_data()


def test_a_withheld_delivery_changes_nothing_the_department_can_read(world, mint, receiver):
    consent, exchange, patient = world
    sub_id = _subscribe(exchange, mint, receiver.url)
    seen = _as_the_department_reads_it(exchange, mint, sub_id)
    _imported(exchange, ("Observation", "obs-1", ()))  # no consent: denied
    _deliver(exchange)
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("withheld", "no-consent")]
    assert _as_the_department_reads_it(exchange, mint, sub_id) == seen, "a denied delivery showed"
    _grant(consent, patient)  # does not name PSY
    _imported(exchange, ("Observation", "obs-psy", ("PSY",)))
    _deliver(exchange)
    assert sorted(d.outcome for d in _deliveries(exchange)) == ["no-consent", "nothing-to-tell"]
    assert _as_the_department_reads_it(exchange, mint, sub_id) == seen, "a held-back record showed"
    # The first notification really sent is number 1: no gap tells of the two withheld.
    _imported(exchange, ("Observation", "obs-2", ()))
    _deliver(exchange)
    [got] = receiver.got
    status = {p["name"]: p for p in got["body"]["entry"][0]["resource"]["parameter"]}
    assert status["events-since-subscription-start"]["valueString"] == "1"
    assert _as_the_department_reads_it(exchange, mint, sub_id) != seen, "a notification sent moves lastUpdated"


def test_a_name_that_resolves_inside_at_delivery_time_is_refused(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url.replace("127.0.0.1", "localhost"))
    # The policy at delivery no longer allows 127.0.0.1 (as a public name now resolving inside).
    exchange.service.subscriptions.hook = RestHook(HostPolicy())
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []
    assert [(d.status, d.outcome) for d in _deliveries(exchange)] == [("failed", "endpoint-refused")]


def test_a_deleted_subscription_gets_nothing_more(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    sub_id = _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    assert exchange.client.delete(f"/fhir/Subscription/{sub_id}",
                                  headers=mint.department("cardiology", "system/Subscription.cd")).status_code == 204
    _imported(exchange, ("Observation", "obs-2", ()))
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []


def test_a_subscription_past_its_end_gets_nothing(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    resp = _create(exchange.client, mint, {**subscription(receiver.url), "end": "2020-01-01T00:00:00Z"})
    assert resp.status_code == 201, resp.get_json()
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    assert receiver.got == [] and _ledger(exchange) == []


def test_a_department_holds_a_bounded_number_of_subscriptions(api, mint, monkeypatch):
    client, engine = api
    monkeypatch.setattr(layer, "MAX_PER_DEPARTMENT", 2)
    for n in range(2):
        assert _create(client, mint, subscription(f"http://127.0.0.1:9/hook{n}")).status_code == 201
    refused = _create(client, mint, subscription("http://127.0.0.1:9/hook2"))
    assert refused.status_code == 409 and refused.get_json()["resourceType"] == "OperationOutcome"
    assert _create(client, mint, subscription("http://127.0.0.1:9/hook2"), dept="emergency").status_code == 201
    assert _count(engine, subscriptions) == 3


def test_the_same_subscription_again_answers_the_one_held_and_makes_no_second(api, mint):
    client, engine = api
    me = mint.department("cardiology", "system/Subscription.cd")
    first = _create(client, mint, subscription("http://127.0.0.1:9/hook"))
    assert first.status_code == 201
    again = _create(client, mint, subscription("http://127.0.0.1:9/hook"))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    # The same patient, type and endpoint but another header: not a second one, a conflict naming it.
    other = _create(client, mint, subscription("http://127.0.0.1:9/hook", header=["Authorization: Bearer new"]))
    assert other.status_code == 409 and other.get_json()["resourceType"] == "OperationOutcome"
    assert first.get_json()["id"] in other.get_json()["issue"][0]["diagnostics"]
    assert _count(engine, subscriptions) == 1
    # Another endpoint, type or department is another subscription; so is one made after a delete.
    assert _create(client, mint, subscription("http://127.0.0.1:9/other")).status_code == 201
    assert _create(client, mint, subscription("http://127.0.0.1:9/hook",
                                              criteria=f"Condition?patient=Patient/{PATIENT}")).status_code == 201
    assert _create(client, mint, subscription("http://127.0.0.1:9/hook"), dept="emergency").status_code == 201
    assert client.delete(f"/fhir/Subscription/{first.get_json()['id']}", headers=me).status_code == 204
    assert _create(client, mint, subscription("http://127.0.0.1:9/hook")).status_code == 201
    assert _count(engine, subscriptions) == 5


def test_the_database_keeps_one_live_subscription_per_department_patient_type_and_endpoint(api, mint):
    client, engine = api
    made = _create(client, mint, subscription("http://127.0.0.1:9/hook")).get_json()
    with engine.connect() as conn:
        row = conn.execute(sa.select(subscriptions).where(subscriptions.c.id == made["id"])).first()
    with pytest.raises(sa.exc.IntegrityError), transaction(engine) as conn:
        conn.execute(subscriptions.insert().values({**row._mapping, "id": "another"}))
    with transaction(engine) as conn:  # one turned off does not count
        conn.execute(subscriptions.insert().values({**row._mapping, "id": "another", "status": "off"}))


def test_finished_deliveries_are_deleted_after_a_while_and_their_ledger_entries_stay(world, mint, receiver):
    consent, exchange, patient = world
    _grant(consent, patient)
    _subscribe(exchange, mint, receiver.url)
    _imported(exchange, ("Observation", "obs-1", ()))
    _deliver(exchange)
    svc = exchange.service.subscriptions
    assert svc.prune(connections(exchange.engine)) == 0, "a fresh one is kept"
    real = svc.clock
    svc.clock = lambda: real() + layer.KEEP_DELIVERIES + timedelta(minutes=1)
    try:
        assert svc.prune(connections(exchange.engine)) == 1
    finally:
        svc.clock = real
    assert _deliveries(exchange) == [] and len(_ledger(exchange)) == 1


@pytest.mark.parametrize("other_header,status", [(False, 200), (True, 409)])
def test_the_same_post_racing_itself_answers_the_one_stored_not_a_500(api, mint, monkeypatch, other_header, status):
    from services.exchange.adapters.subscription_repository import SqlSubscriptions
    client, engine = api
    first = _create(client, mint, subscription("http://127.0.0.1:9/hook"))
    assert first.status_code == 201
    # The second request looks before the first commits: it finds nothing, then its insert meets
    # the unique index the first one's row now holds.
    real, looks = SqlSubscriptions.find_live, []

    def not_yet(self, *args):
        looks.append(args)
        return None if len(looks) == 1 else real(self, *args)

    monkeypatch.setattr(SqlSubscriptions, "find_live", not_yet)
    channel = {"header": ["Authorization: Bearer new"]} if other_header else {}
    again = _create(client, mint, subscription("http://127.0.0.1:9/hook", **channel))
    assert again.status_code == status, again.get_json()
    assert len(looks) == 2 and _count(engine, subscriptions) == 1
    if status == 200:
        assert again.get_json() == first.get_json()
    else:
        assert first.get_json()["id"] in again.get_json()["issue"][0]["diagnostics"]
