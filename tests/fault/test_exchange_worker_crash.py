"""The exchange worker dies in the middle of a release: nothing half-written, one ledger entry after it resumes."""
import json

import pytest
import sqlalchemy as sa

from services.common.config import load_settings
from services.common.db import make_engine, migrate, transaction
from services.exchange import MIGRATIONS_DIR
from services.exchange.adapters.fakes import FakeConsent, FakeRecords, Pump
from services.exchange.adapters.tables import exchange_requests, ledger, notifications, outbox
from services.exchange.bootstrap import bootstrap
from services.exchange.entrypoints.worker import flow_handlers
from services.exchange.service_layer import flow as flow_module
from tests.support.directory import seed_directory


class Killed(BaseException):
    """The process died here (like SIGKILL: no handler runs, the transaction never commits)."""


@pytest.fixture
def exchange(database_url, tmp_path):
    migrate(database_url, MIGRATIONS_DIR)
    settings = load_settings("exchange", {"PHR_VAR_DIR": str(tmp_path)}, database_url=database_url,
                             testing=True, contract_checks="enforce")
    ex = bootstrap(settings, make_engine(database_url), consent=FakeConsent({("p-1", "cardiology"): []}))
    seed_directory(ex.engine)  # the demo's departments, as the worker keeps them
    yield ex
    ex.engine.dispose()


def _count(ex, table, *where):
    with ex.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def test_a_worker_killed_after_writing_the_ledger_entry_but_before_commit_resumes_with_one_entry(
        exchange, monkeypatch):
    ex = exchange
    with transaction(ex.engine) as conn:
        request_id = ex.flow.submit(conn, "p-1", "cardiology", "TREAT", ["Observation"], None)["id"]
    pump = Pump(ex, FakeRecords(), flow_handlers(ex))
    pump.run(drop_fetches=True)
    reply = pump.records.reply({"data": {"request_id": request_id, "patient": "p-1"}})

    real = flow_module.add_notification
    monkeypatch.setattr(flow_module, "add_notification", lambda *a, **k: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        pump.deliver(reply)  # the ledger row was inserted, then the process "died"
    assert _count(ex, ledger) == 0, "an uncommitted release leaves no trace"
    with ex.engine.connect() as conn:
        assert conn.execute(sa.select(exchange_requests.c.status)).scalar() == "pending"

    monkeypatch.setattr(flow_module, "add_notification", real)
    # A new worker re-reads the uncommitted offset: the same message comes again, twice even.
    assert pump.deliver(reply) == "applied"
    assert pump.deliver(reply) == "duplicate"
    assert _count(ex, ledger) == 1 and _count(ex, notifications) == 1
    fulfilled = _count(ex, outbox, outbox.c.payload.like('%"type":"phr.exchange.fulfilled"%'))
    assert fulfilled == 1
    with ex.engine.connect() as conn:
        entry = json.loads(conn.execute(sa.select(ledger.c.entry)).scalar())
    assert entry["request_id"] == request_id and entry["seq"] == 1
