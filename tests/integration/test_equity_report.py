"""The equity report: the exchange service's projection fed by the events the services emit."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest

from contracts.schemas.equity import EquityReportSchema
from services.common import kafka
from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.common.outbox import KafkaPublisher
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import processed_events
from services.exchange.service_layer.equity import EQUITY_HANDLERS

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(exchange):
    """The exchange's client and its consumer of every service's events (the equity report)."""
    consumer = IdempotentConsumer("exchange.equity", exchange.engine, processed_events, EQUITY_HANDLERS, Letters())
    return exchange.client, consumer


def _at(event: dict, when: dt.datetime) -> dict:
    return {**event, "time": when.isoformat()}


def patient_events(patient: str, language: str, activated: bool, birth_date: str = "1970-05-01") -> list[dict]:
    """What records and the gateway say about one patient."""
    events = [new_event("phr.records.imported", "/services/records", patient, {
        "patient": patient, "custodian": "primary-care", "resource_count": 1,
        "resource_types": {"Patient": 1}, "imported_at": T0.isoformat(),
        "demographics": {"language": language, "birth_date": birth_date, "sex": "female",
                         "interpreter_needed": not language.startswith("en")}})]
    events.append(new_event("phr.accounts.activation-code-issued", "/gateway", patient, {
        "patient": patient, "department": "primary-care", "issued_at": T0.isoformat(),
        "expires_at": (T0 + dt.timedelta(days=14)).isoformat()}))
    if activated:
        events.append(new_event("phr.accounts.activated", "/gateway", patient, {
            "patient": patient, "activated_at": (T0 + dt.timedelta(days=1)).isoformat()}))
    return events


def exchange_events(patient: str, fulfilled: bool, seconds: float) -> list[dict]:
    """One request for PATIENT's records and how it ended, SECONDS later."""
    rid, base = str(uuid.uuid4()), {"patient": patient, "requester": "cardiology", "purpose": "TREAT"}
    requested = _at(new_event("phr.exchange.requested", "/services/exchange", patient, {
        "request_id": rid, **base, "resource_types": ["Observation"]}), T0)
    if fulfilled:
        ended = new_event("phr.exchange.fulfilled", "/services/exchange", patient, {
            "request_id": rid, **base, "consent_id": "c-1", "consent_version": 1, "basis": "consent",
            "ledger_seq": 1, "ledger_hash": "0" * 64, "resource_count": 1, "redacted_count": 0,
            "redacted_labels": []})
    else:
        ended = new_event("phr.exchange.denied", "/services/exchange", patient, {
            "request_id": rid, **base, "reason_code": "no-consent"})
    return [requested, _at(ended, T0 + dt.timedelta(seconds=seconds))]


def population(es_activated: int, es_fulfilled: int, es_seconds: float) -> list[dict]:
    """50 English and 50 Spanish speakers, one decided exchange request each."""
    events = []
    for lang, activated, fulfilled, seconds in (("en-US", 45, 45, 60.0), ("es", es_activated, es_fulfilled,
                                                                          es_seconds)):
        for i in range(50):
            patient = f"{lang}-{i}"
            events += patient_events(patient, lang, i < activated)
            events += exchange_events(patient, i < fulfilled, seconds)
    return events


def feed(consumer: IdempotentConsumer, events: list[dict]) -> None:
    for event in events:
        topic = {"phr.records": "phr.records.v1", "phr.accounts": "phr.accounts.v1"}.get(
            event["type"].rsplit(".", 1)[0], "phr.exchange.v1")
        assert consumer.handle(topic, json.dumps(event).encode()) == "applied"


def oversight(mint) -> dict:
    return mint.department("oversight", scope="system/Equity.r")


def language_row(body: dict, group: str) -> dict:
    grouping = next(g for g in body["groupings"] if g["grouping"] == "language")
    return next(g for g in grouping["groups"] if g["group"] == group)


def test_a_population_with_a_disparity_is_flagged_where_the_gap_is(world, mint):
    client, consumer = world
    feed(consumer, population(es_activated=25, es_fulfilled=32, es_seconds=300.0))
    resp = client.get("/equity/v1/report", headers=oversight(mint))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert EquityReportSchema().validate(body) == {}
    assert body["population"] == {"patients": 100, "exchanges": 100}
    flagged = {(f["grouping"], f["group"], f["measure"]) for f in body["flags"]}
    assert flagged == {(g, grp, m) for g, grp in (("language", "es"), ("interpreter_needed", "yes"))
                       for m in ("activation", "permitted_exchanges", "time_to_fulfil_p50")}
    es = language_row(body, "es")
    assert es["activation"] == {"cases": 50, "count": 25, "rate": 0.5, "ratio": pytest.approx(0.5 / 0.9),
                                "judged": True, "flagged": True}
    assert es["time_to_fulfil_p50"]["p50_seconds"] == 300.0
    assert es["time_to_fulfil_p50"]["ratio"] == pytest.approx(0.2)
    assert not any(language_row(body, "en")[m]["flagged"] for m in ("activation", "permitted_exchanges"))


def test_a_population_without_a_disparity_raises_no_flag(world, mint):
    client, consumer = world
    feed(consumer, population(es_activated=44, es_fulfilled=43, es_seconds=65.0))
    body = client.get("/equity/v1/report", headers=oversight(mint)).get_json()
    assert body["flags"] == []
    assert language_row(body, "es")["activation"]["judged"] is True


def test_an_import_without_a_patient_keeps_the_demographics_already_known(world, mint):
    client, consumer = world
    feed(consumer, patient_events("p-1", "es", True))
    later = new_event("phr.records.imported", "/services/records", "p-1", {
        "patient": "p-1", "custodian": "primary-care", "resource_count": 1,
        "resource_types": {"Observation": 1}, "imported_at": T0.isoformat(), "demographics": {}})
    feed(consumer, [later])
    body = client.get("/equity/v1/report", headers=oversight(mint)).get_json()
    es = language_row(body, "es")["activation"]
    assert (es["cases"], es["count"], es["judged"], es["flagged"]) == (1, 1, False, False)


def test_a_caregiver_in_force_makes_the_patient_proxy_managed_until_the_grant_ends(world, mint):
    client, consumer = world
    feed(consumer, patient_events("p-1", "en", True) + patient_events("p-2", "en", False))
    now = dt.datetime.now(dt.timezone.utc)
    grant = {"patient": "p-1", "grant_id": "g-1"}
    feed(consumer, [new_event("phr.accounts.proxy-activated", "/gateway", "p-1", {
        **grant, "relationship": "caregiver", "activated_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(days=30)).isoformat()})])

    def proxy_groups():
        body = client.get("/equity/v1/report", headers=oversight(mint)).get_json()
        grouping = next(g for g in body["groupings"] if g["grouping"] == "proxy_managed")
        return {g["group"]: g["activation"]["cases"] for g in grouping["groups"]}

    assert proxy_groups() == {"no": 1, "yes": 1}
    feed(consumer, [new_event("phr.accounts.proxy-ended", "/gateway", "p-1", {
        **grant, "ended_at": now.isoformat(), "reason": "revoked"})])
    assert proxy_groups() == {"no": 2}


def test_since_counts_only_the_requests_made_from_that_day_and_a_bad_date_is_a_422(world, mint):
    client, consumer = world
    feed(consumer, population(es_activated=45, es_fulfilled=45, es_seconds=60.0))
    after = client.get("/equity/v1/report?since=2026-03-03", headers=oversight(mint)).get_json()
    assert after["since"] == "2026-03-03" and after["population"]["exchanges"] == 0
    bad = client.get("/equity/v1/report?since=yesterday", headers={**oversight(mint), "Accept-Language": "es"})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.headers["Content-Language"] == "es" and "since" in bad.get_json()["fields"]
    assert bad.get_json()["detail"].startswith("La fecha")


def test_the_projection_is_fed_through_the_real_broker_and_a_redelivery_counts_once(broker, world, mint):
    client, consumer = world
    topic = f"phr.it.equity.{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(broker.bootstrap, [topic])
    events = patient_events("p-1", "es", True) + exchange_events("p-1", True, 42.0)
    publisher = KafkaPublisher(kafka.producer(broker.bootstrap))
    for event in [*events, events[-1]]:  # the last one twice, as after a relay restart
        publisher.publish(topic, event["subject"], json.dumps(event).encode(), [])
    publisher.flush()
    stop = threading.Event()
    reader = kafka.consumer(broker.bootstrap, f"equity-{uuid.uuid4().hex[:6]}", [topic])
    thread = threading.Thread(target=consumer.run, args=(reader, stop), daemon=True)
    thread.start()
    try:
        deadline, body = time.monotonic() + 30, {}
        while time.monotonic() < deadline:
            body = client.get("/equity/v1/report", headers=oversight(mint)).get_json()
            if body["population"]["exchanges"]:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)
        reader.close()
    es = language_row(body, "es")
    assert es["activation"]["count"] == 1 and es["permitted_exchanges"]["cases"] == 1
    assert es["time_to_fulfil_p50"]["p50_seconds"] == 42.0
