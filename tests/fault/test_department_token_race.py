"""A department's token issued while an administrator disables it must not outlive the disabling."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR
from gateway import schema as t
from gateway.authz.stores import ClientStore, TokenStore
from gateway.directory.store import DirectoryStore
from services.common.db import make_engine, migrate


@pytest.fixture
def gateway_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _token(client_id: str) -> dict:
    now = int(time.time())
    return dict(jti=str(uuid.uuid4()), client_id=client_id, account_id=None, patient=None,
                scope="system/*.rs", issued_at=now, expires_at=now + 300, access_revoked=False,
                refresh_revoked=True, refresh_hash=None, refresh_expires_at=None, grant_id=None,
                family=str(uuid.uuid4()))


def test_a_token_saved_while_its_department_is_being_disabled_waits_and_is_refused(gateway_db):
    DirectoryStore(gateway_db).register("physiotherapy", {"en": "Physiotherapy", "es": "Fisioterapia"},
                                        "clinical", False, False, "secret")
    saved = []
    with gateway_db.connect() as disabling:
        disabling = disabling.execution_options(write=True)
        with disabling.begin():  # DirectoryStore.disable's client update, not committed yet
            ClientStore.disable(disabling, "physiotherapy")
            saver = threading.Thread(target=lambda: saved.append(
                TokenStore(gateway_db).save_token(**_token("physiotherapy"))))
            saver.start()
            saver.join(0.5)
            assert saver.is_alive()  # it waits for the client's row
        saver.join(30)
    assert saved == [False]
    with gateway_db.connect() as conn:
        assert conn.execute(sa.select(t.tokens.c.jti)).all() == []


def test_a_token_saved_just_before_the_disabling_is_revoked_by_it(gateway_db):
    store = DirectoryStore(gateway_db)
    store.register("physiotherapy", {"en": "Physiotherapy", "es": "Fisioterapia"}, "clinical", False, False,
                   "secret")
    token = _token("physiotherapy")
    assert TokenStore(gateway_db).save_token(**token)
    store.disable("physiotherapy", "Closed.")
    with gateway_db.connect() as conn:
        revoked = conn.execute(sa.select(t.revoked_jtis.c.jti)).scalars().all()
        row = conn.execute(sa.select(t.tokens).where(t.tokens.c.jti == token["jti"])).mappings().one()
    assert revoked == [token["jti"]] and row["access_revoked"]
    assert TokenStore(gateway_db).save_token(**_token("physiotherapy")) is False
