"""A caregiver's token issued while the patient stops the grant must not outlive the stop."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR
from gateway.accounts import caregivers
from gateway.authz import oauth
from gateway import schema as t
from gateway.authz.stores import TokenStore
from services.common.db import make_engine, migrate
from tests.support.gateway import caregiver, refresh


def test_a_refresh_that_races_the_patient_stopping_the_grant_gets_no_token(client, engine, monkeypatch):
    grant, tokens = caregiver(client, engine)
    grants = client.application.extensions["gateway"].stores.grants
    checked = caregivers.principal

    def stopped_right_after_the_check(accounts_, grants_, account_id, grant_id):
        user = checked(accounts_, grants_, account_id, grant_id)  # the grant is still in force here
        row = grants.grant(grant_id)
        grants.revoke_grant(grant_id, row["patient"], row["patient_account_id"])
        return user

    monkeypatch.setattr(oauth.caregivers, "principal", stopped_right_after_the_check)
    answer = refresh(client, tokens["refresh_token"])
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "invalid_grant"
    with engine.connect() as conn:
        live = conn.execute(sa.select(t.tokens.c.jti).where(
            t.tokens.c.grant_id == grant["id"], t.tokens.c.access_revoked == sa.false())).all()
    assert live == []


@pytest.fixture
def gateway_db(database_url):
    migrate(database_url, MIGRATIONS_DIR)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _grant(engine) -> dict:
    """A portal client, a patient, a caregiver and the grant between them."""
    now = int(time.time())
    ids = {"patient": str(uuid.uuid4()), "caregiver": str(uuid.uuid4()), "grant": str(uuid.uuid4())}
    account = dict(password_hash="x", language="en", failed_logins=0, locked_until=0, created_at=now)
    with engine.begin() as conn:
        conn.execute(sa.insert(t.clients).values(client_id="phr-portal", kind="portal", name="Portal",
                                                 scope="patient/*.rs", redirect_uris="[]",
                                                 created_at=now))
        conn.execute(sa.insert(t.accounts).values(id=ids["patient"], username="ana", patient="p-1",
                                                  kind="patient", **account))
        conn.execute(sa.insert(t.accounts).values(id=ids["caregiver"], username="carla",
                                                  patient=None, kind="caregiver", **account))
        conn.execute(sa.insert(t.proxy_grants).values(
            id=ids["grant"], patient="p-1", patient_account_id=ids["patient"],
            patient_birth_date="1980-05-17", relationship="caregiver", rights="view-records",
            last_day="2099-01-01", ends_at=now + 86400, limited_by_age=False, invite_hash="h",
            invite_expires_at=now, failed_attempts=0, caregiver_account_id=ids["caregiver"],
            created_at=now, activated_at=now))
    return ids


def test_a_token_saved_while_a_grant_is_being_stopped_waits_for_the_stop_and_is_refused(gateway_db):
    ids, now = _grant(gateway_db), int(time.time())
    token = dict(jti=str(uuid.uuid4()), client_id="phr-portal", account_id=ids["caregiver"],
                 patient="p-1", scope="patient/*.rs", issued_at=now, expires_at=now + 300,
                 access_revoked=False, refresh_revoked=True, refresh_hash=None,
                 refresh_expires_at=None, grant_id=ids["grant"], family=str(uuid.uuid4()))
    saved = []
    with gateway_db.connect() as stopping:
        stopping = stopping.execution_options(write=True)
        with stopping.begin():  # the first write of GrantStore.revoke_grant, not committed yet
            stopping.execute(sa.update(t.proxy_grants).where(t.proxy_grants.c.id == ids["grant"])
                             .values(revoked_at=now))
            saver = threading.Thread(target=lambda: saved.append(TokenStore(gateway_db).save_token(**token)))
            saver.start()
            saver.join(0.5)
            assert saver.is_alive()  # it waits for the grant's row
        saver.join(30)
    assert saved == [False]
    with gateway_db.connect() as conn:
        assert conn.execute(sa.select(t.tokens.c.jti)).all() == []
