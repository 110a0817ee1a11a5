"""Gateway migration 0006: a department that held the consent-create scope by name keeps
break-the-glass under system/BreakGlass.c; one that reached it by a wildcard does not."""
import sqlalchemy as sa

from services.common.db import make_engine
from tests.support.gateway import CLIENTS, upgrade_to


def test_only_departments_granted_the_consent_create_scope_by_name_keep_break_the_glass(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_to(url, "0005_outbox_dead_letters")
    before = {"emergency": "system/*.rs system/Exchange.cr system/Consent.r system/Consent.c",
              "primary-care": "system/*.rs system/Exchange.cr system/Consent.r system/*.cu",
              "research": "system/Exchange.cr system/Consent.r"}
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, scope in before.items():
                conn.execute(CLIENTS.insert().values(client_id=name, kind="department", name=name,
                                                     secret_hash="x", jwks=None, scope=scope,
                                                     redirect_uris="[]", created_at=0))
        upgrade_to(url, "0006_break_glass_scope")  # later migrations change scopes of their own
        with engine.connect() as conn:
            after = dict(conn.execute(sa.select(CLIENTS.c.client_id, CLIENTS.c.scope)).all())
    finally:
        engine.dispose()
    assert after["emergency"] == before["emergency"] + " system/BreakGlass.c"
    assert after["primary-care"] == before["primary-care"] and after["research"] == before["research"]
