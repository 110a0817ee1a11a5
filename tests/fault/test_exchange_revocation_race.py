"""Revocation races an exchange, against the real consent service (in process, its own database):
a consent revoked mid-request releases nothing; revoked after the release, the download is refused."""
import pytest
import sqlalchemy as sa

from services.common.db import transaction
from services.exchange.adapters.fakes import Pump
from services.exchange.adapters.peers import ConsentClient
from services.exchange.adapters.tables import exchange_requests, ledger
from services.exchange.entrypoints.worker import flow_handlers


class _Answer:
    def __init__(self, resp):
        self.status_code, self.text, self._json = resp.status_code, resp.get_data(as_text=True), resp.get_json()

    def json(self):
        return self._json


class InProcess:
    """A requests-like session that sends to a Flask app's test client (no sockets)."""

    def __init__(self, client):
        self.client = client

    def post(self, url, json=None, headers=None, timeout=None):
        return _Answer(self.client.post("/" + url.split("/", 3)[3], json=json, headers=headers))


@pytest.fixture
def world(service_apps, database_url, mint):
    # The exchange worker's client is the one consent lets ask about the requesting department.
    consent = service_apps.consent(decision_clients=("exchange-service",)).client  # on a SQLite file
    service_token = mint.token(scope="system/Consent.r", sub="exchange-service", client_id="exchange-service")
    decisions = ConsentClient("http://consent.invalid", lambda: service_token, session=InProcess(consent))
    app = service_apps.exchange(database_url, consent=decisions).app
    exchange = app.extensions["exchange"]
    patient = mint.patient("pat-1", scope="patient/Consent.cruds patient/*.rs", sub="acc-1")
    granted = consent.post("/patient/v1/consents", headers=patient, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]})
    assert granted.status_code == 201, granted.get_json()
    return (app.test_client(), exchange, Pump(exchange, app.extensions["exchange"].records, flow_handlers(exchange)),
            lambda: consent.delete(f"/patient/v1/consents/{granted.get_json()['id']}", headers=patient))


def _request(exchange) -> str:
    with transaction(exchange.engine) as conn:
        return exchange.flow.submit(conn, "pat-1", "cardiology", "TREAT", ["Observation"], None)["id"]


def _row(exchange, request_id):
    with exchange.engine.connect() as conn:
        return conn.execute(sa.select(exchange_requests).where(exchange_requests.c.id == request_id)).first()


def _entries(exchange) -> int:
    with exchange.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar()


def test_a_revocation_landing_between_the_decision_and_the_release_releases_nothing(world):
    _client, exchange, pump, revoke = world
    request_id = _request(exchange)
    pump.run(drop_fetches=True)
    assert _row(exchange, request_id).step == "fetch"  # permitted, records are preparing the data
    assert revoke().status_code == 200
    pump.deliver(pump.records.reply({"data": {"request_id": request_id, "patient": "pat-1"}}))
    row = _row(exchange, request_id)
    assert (row.status, row.outcome) == ("denied", "consent-withdrawn") and _entries(exchange) == 0


def test_a_revocation_after_the_release_refuses_the_download(world, mint):
    client, exchange, pump, revoke = world
    request_id = _request(exchange)
    pump.run()
    assert _row(exchange, request_id).status == "fulfilled" and _entries(exchange) == 1
    headers = mint.department("cardiology", "system/Exchange.r system/Consent.r")
    assert client.get(f"/exchange/v1/requests/{request_id}/bundle", headers=headers).status_code == 200
    assert revoke().status_code == 200
    refused = client.get(f"/exchange/v1/requests/{request_id}/bundle", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["type"].endswith("/consent-withdrawn")
