"""Records announces its correction requests again (services/records/service_layer/announce.py), on
SQLite and PostgreSQL (records'; the exchange that hears them is on SQLite): an exchange that
missed the first announcements learns whose each request is, which a report's link is checked
against; hearing one twice changes nothing."""
from __future__ import annotations

import json

import sqlalchemy as sa

from services.common.consumer import IdempotentConsumer
from services.exchange.adapters.fakes import Letters
from services.exchange.adapters.tables import correction_requests
from services.exchange.adapters.tables import processed_events as exchange_processed
from services.exchange.service_layer.handlers import HANDLERS
from services.records.adapters.tables import outbox
from services.records.entrypoints import announce
from services.records.service_layer.announce import announce_corrections
from tests.integration.test_records_corrections import GUSTAVO, LIZ, _ask
from tests.integration.test_records_corrections import two_patients  # noqa: F401 - the autouse fixture


def _announced(engine) -> list[dict]:
    with engine.connect() as conn:
        events = [json.loads(r.payload) for r in conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.seq))]
    return [e for e in events if e["type"] == "phr.records.amendment-requested"]


def test_records_announces_every_correction_request_again_and_an_exchange_that_missed_them_learns_them(
        records, mint, service_apps):
    liz, _ = _ask(records.client, mint, LIZ)
    gus, _ = _ask(records.client, mint, GUSTAVO)
    first = _announced(records.engine)
    assert announce_corrections(records.service.uow()) == 2
    again = _announced(records.engine)[len(first):]
    # the same data as when each was asked for, in new events
    assert sorted(json.dumps(e["data"], sort_keys=True) for e in again) == \
        sorted(json.dumps(e["data"], sort_keys=True) for e in first)
    assert {e["data"]["task"] for e in again} == {f"Task/{liz['id']}", f"Task/{gus['id']}"}
    assert not {e["id"] for e in again} & {e["id"] for e in first}

    exchange = service_apps.exchange()  # one that never heard the first announcements
    index = IdempotentConsumer("exchange.records-index", exchange.engine, exchange_processed, HANDLERS, Letters())
    for event in again + again[:1]:
        index.handle("phr.records.v1", json.dumps(event).encode())
    with exchange.engine.connect() as conn:
        known = {r.task: (r.patient, r.custodian) for r in conn.execute(sa.select(correction_requests))}
    assert known == {f"Task/{liz['id']}": (LIZ, "primary-care"), f"Task/{gus['id']}": (GUSTAVO, "primary-care")}


def test_the_announce_command_queues_them_with_the_services_settings(records, mint, monkeypatch, capsys,
                                                                     database_url):
    _ask(records.client, mint, LIZ)
    monkeypatch.setenv("RECORDS_DATABASE_URL", database_url)
    before = len(_announced(records.engine))
    assert announce.main(["corrections"]) == 0
    assert "queued 1 correction requests" in capsys.readouterr().out
    assert len(_announced(records.engine)) == before + 1
