"""The consent service down: requests wait, then fail closed; nothing is ever released without a permit."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.common.config import load_settings
from services.common.db import make_engine, migrate, transaction
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.fakes import FakeConsent, FakeRecords, Pump
from services.exchange.adapters.tables import exchange_requests, ledger
from services.exchange.bootstrap import bootstrap
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer.flow import connections
from tests.support.directory import seed_directory


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def exchange(database_url, tmp_path):
    migrate(database_url, MIGRATIONS_DIR)
    settings = load_settings("exchange", {"PHR_VAR_DIR": str(tmp_path)}, database_url=database_url,
                             testing=True, contract_checks="enforce")
    consent, clock = FakeConsent({("p-1", "cardiology"): []}, down=True), Clock()
    ex = bootstrap(settings, make_engine(database_url), consent=consent, deadline=60)
    seed_directory(ex.engine)  # the demo's departments, as the worker keeps them
    ex.flow.clock = clock
    yield ex, consent, clock, Pump(ex, FakeRecords(), flow_handlers(ex))
    ex.engine.dispose()


def _submit(ex, n=3) -> list[str]:
    ids = []
    for _ in range(n):
        with transaction(ex.engine) as conn:
            ids.append(ex.flow.submit(conn, "p-1", "cardiology", "TREAT", ["Observation"], None)["id"])
    return ids


def _statuses(ex) -> list[str]:
    with ex.engine.connect() as conn:
        return [r.status for r in conn.execute(sa.select(exchange_requests.c.status))]


def _released(ex) -> int:
    with ex.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar()


def test_requests_wait_while_consent_is_down_and_complete_when_it_returns(exchange):
    ex, consent, clock, pump = exchange
    _submit(ex)
    pump.run()
    assert _statuses(ex) == ["pending"] * 3 and _released(ex) == 0
    for _ in range(4):  # the sweeper retries with backoff; consent is still down
        clock.advance(10)
        ex.flow.sweep(connections(ex.engine))
    assert _statuses(ex) == ["pending"] * 3 and _released(ex) == 0
    consent.down = False
    clock.advance(10)
    ex.flow.sweep(connections(ex.engine))
    pump.run()
    assert _statuses(ex) == ["fulfilled"] * 3 and _released(ex) == 3


def test_requests_fail_closed_when_consent_stays_down_past_the_deadline(exchange):
    ex, _consent, clock, pump = exchange
    _submit(ex)
    pump.run()
    clock.advance(61)
    ex.flow.sweep(connections(ex.engine))
    assert _statuses(ex) == ["failed"] * 3 and _released(ex) == 0
    with ex.engine.connect() as conn:
        assert {r.outcome for r in conn.execute(sa.select(exchange_requests.c.outcome))} == {"consent-unavailable"}


def test_consent_lost_between_fetch_and_release_holds_the_release_until_a_fresh_permit(exchange):
    ex, consent, clock, pump = exchange
    consent.down = False
    _submit(ex, 1)
    pump.run(drop_fetches=True)
    consent.down = True  # the records' reply arrives while consent is away
    with ex.engine.connect() as conn:
        request_id = conn.execute(sa.select(exchange_requests.c.id)).scalar()
    pump.deliver(pump.records.reply({"data": {"request_id": request_id, "patient": "p-1"}}))
    assert _statuses(ex) == ["pending"] and _released(ex) == 0
    clock.advance(61)
    ex.flow.sweep(connections(ex.engine))
    assert _statuses(ex) == ["failed"] and _released(ex) == 0
