"""The gateway's revocation poller on PostgreSQL, where ids are handed out before commit."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR
from gateway import schema as t
from gateway.authz.revocation import RevocationList
from gateway.authz.stores import TokenStore
from services.common.db import make_engine, migrate, transaction
from tests.support.databases import (create_postgres_database, drop_postgres_database,
                                     postgres_available)

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine():
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    url = create_postgres_database()
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop_postgres_database(url)


def _revoke(conn, jti: str) -> None:
    conn.execute(sa.insert(t.revoked_jtis).values(jti=jti, expires_at=int(time.time()) + 300))


def test_a_revocation_that_commits_after_a_later_one_was_read_is_not_skipped(engine):
    revoked = RevocationList(TokenStore(engine), refresh_seconds=0)
    with engine.connect() as slow:
        late = slow.begin()
        _revoke(slow, "slow")  # takes the lower id, commits last
        with transaction(engine) as quick:
            _revoke(quick, "quick")
        assert revoked.is_revoked("quick") and not revoked.is_revoked("slow")
        late.commit()
    assert revoked.is_revoked("slow")
