"""Nothing is kept for ever: prepared Bundles, the full copies of records
an exchange makes, expire and are deleted; the gateway deletes expired token rows and
revocations. SQLite and PostgreSQL."""
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR as GATEWAY_MIGRATIONS
from gateway.admin import housekeeping
from gateway import schema as t
from gateway.worker import GatewayWorker
from services.common.config import load_settings
from services.common.db import make_engine, migrate, transaction
from services.records.adapters.tables import claim_checks
from services.records.entrypoints.worker import fetch_handlers, prune_claim_checks
from services.records.service_layer import handlers
from services.records.service_layer.unit_of_work import SqlUnitOfWork
from tests.support.client import demo_departments, demo_patient_headers
from tests.support.fhir import small_bundle

GRACE_SECONDS = 1.5


@pytest.fixture
def records_settings() -> dict:
    """A prepared Bundle outlives its first download by GRACE_SECONDS."""
    return {"claim_check_grace_minutes": GRACE_SECONDS / 60}


def _prepare(engine, recs, patient: str) -> str:
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    event = {"id": str(uuid.uuid4()), "type": "phr.records.fetch", "data": {
        "request_id": request_id, "patient": patient, "resource_types": ["Observation"],
        "redact_labels": [], "requester": "cardiology"}}
    with transaction(engine) as conn:
        fetch_handlers(recs)["phr.records.fetch"](conn, event)
    with engine.connect() as conn:
        return conn.execute(sa.select(claim_checks.c.ref).where(claim_checks.c.request_id == request_id)).scalar()


def _checks(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(claim_checks)).scalar()


def test_a_prepared_bundle_survives_a_retried_download_then_is_gone_and_deleted(records, mint):
    (client, engine), recs = records, records.service
    client.post("/fhir", json=small_bundle("cc-1"), headers=mint.department())
    ref = _prepare(engine, recs, "cc-1")
    url, cardiology = f"/internal/v1/bundles/{ref}", mint.department("cardiology")
    assert client.get(url, headers=cardiology).status_code == 200
    assert client.get(url, headers=cardiology).status_code == 200  # a retry within the grace
    time.sleep(GRACE_SECONDS + 0.3)
    gone = client.get(url, headers=cardiology)
    assert gone.status_code == 410 and gone.headers["Content-Type"].startswith("application/")
    assert prune_claim_checks(recs) == 1 and _checks(engine) == 0


def test_a_prepared_bundle_no_one_downloads_expires_after_its_time_and_is_deleted(records, mint):
    (client, engine), recs = records, records.service
    client.post("/fhir", json=small_bundle("cc-2"), headers=mint.department())
    ref = _prepare(engine, recs, "cc-2")
    with engine.connect() as conn:
        made, expires = conn.execute(sa.select(claim_checks.c.created_at, claim_checks.c.expires_at)).one()
    assert expires - made == timedelta(hours=24)  # CLAIM_CHECK_TTL_HOURS' default
    later = datetime.now(timezone.utc) + timedelta(hours=24, seconds=1)
    assert handlers.prune_claim_checks(recs.uow(), datetime.now(timezone.utc)) == 0
    assert handlers.prune_claim_checks(recs.uow(), later) == 1
    assert client.get(f"/internal/v1/bundles/{ref}", headers=mint.department("cardiology")).status_code == 404


def _fulfilled(dept, patient: str, timeout: float = 30.0) -> str:
    resp = dept.post("/exchange/v1/requests", json={"patient": patient, "purpose": "HRESCH",
                                                    "resource_types": ["Observation"]})
    assert resp.status_code == 202, resp.text
    url, deadline = f"/exchange/v1/requests/{resp.json()['id']}", time.monotonic() + timeout
    while (status := dept.get(url).json())["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status["status"] == "fulfilled", status
    return status["bundle"]


def test_a_department_whose_bundle_was_deleted_is_told_it_is_gone_and_what_to_do(stack):
    who, me = demo_patient_headers(stack, 2, "openid fhirUser offline_access patient/*.rs patient/Consent.cruds")
    research = demo_departments(stack)["research"]
    granted = requests.post(f"{stack.gateway}/patient/v1/consents", headers=me, timeout=10, json={
        "grantee": "research", "purposes": ["HRESCH"], "classes": ["Observation"]})
    assert granted.status_code == 201, granted.text
    bundle = _fulfilled(research, who["patient"])
    assert research.get(bundle).status_code == 200
    engine = make_engine(stack.database_url("records"))  # the records worker's pruning, a day on
    try:
        later = datetime.now(timezone.utc) + timedelta(days=1)
        assert handlers.prune_claim_checks(SqlUnitOfWork(engine), later) >= 1
    finally:
        engine.dispose()
    gone = research.get(bundle, headers={"Accept-Language": "es"})
    assert gone.status_code == 410 and gone.headers["Content-Type"].startswith("application/problem+json")
    assert gone.json()["next_step"] and gone.headers["Content-Language"] == "es"


@pytest.fixture
def gateway_db(database_url):
    migrate(database_url, GATEWAY_MIGRATIONS)
    engine = make_engine(database_url)
    with transaction(engine) as conn:
        conn.execute(sa.insert(t.clients).values(client_id="c", kind="department", name="c", scope="",
                                                 redirect_uris="[]", created_at=0))
    yield engine
    engine.dispose()


def _token(conn, jti: str, expires_at: int, refresh_expires_at: int | None = None) -> None:
    conn.execute(sa.insert(t.tokens).values(
        jti=jti, client_id="c", scope="", issued_at=expires_at - 300, expires_at=expires_at,
        access_revoked=False, refresh_revoked=False, family=jti, refresh_expires_at=refresh_expires_at,
        refresh_hash=None if refresh_expires_at is None else f"h-{jti}"))


def _left(engine, column) -> set:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(column))}


def test_expired_token_rows_and_revocations_are_deleted_and_the_rest_kept(gateway_db):
    now, day = int(time.time()), 86400
    with transaction(gateway_db) as conn:
        _token(conn, "old", now - day)
        _token(conn, "old-but-refreshable", now - day, refresh_expires_at=now + day)
        _token(conn, "refresh-also-old", now - day, refresh_expires_at=now - day)
        _token(conn, "just-expired", now - 60)  # within the margin: services allow some leeway
        _token(conn, "live", now + 300)
        for jti, expires in (("old", now - day), ("live", now + 300), ("newest-but-old", now - day)):
            conn.execute(sa.insert(t.revoked_jtis).values(jti=jti, expires_at=expires))
    assert housekeeping.prune(gateway_db, now) == (2, 1)
    assert _left(gateway_db, t.tokens.c.jti) == {"old-but-refreshable", "just-expired", "live"}
    # The newest revocation stays however old, so the next one never reuses an id a poller passed.
    assert _left(gateway_db, t.revoked_jtis.c.jti) == {"live", "newest-but-old"}


def test_the_gateway_worker_prunes_expired_tokens_on_its_own(gateway_db, tmp_path):
    with transaction(gateway_db) as conn:
        _token(conn, "old", int(time.time()) - 86400)
    worker = GatewayWorker(load_settings("gateway", {"PHR_VAR_DIR": str(tmp_path)}), gateway_db, t.outbox)
    [pruner] = [t for t in worker.extra_threads() if t.name == "token-pruning"]
    pruner.start()
    try:
        deadline = time.monotonic() + 10
        while _left(gateway_db, t.tokens.c.jti) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop.set()
        pruner.join(timeout=10)
    assert _left(gateway_db, t.tokens.c.jti) == set()
