"""Gateway migration 0012: the staff console registered before privacy officers read the
accounting of disclosures is given user/AuditEvent.rs; no other client changes."""
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR
from services.common.db import make_engine, migrate
from tests.support.gateway import CLIENTS, upgrade_to

OLD_CONSOLE = "openid fhirUser offline_access user/Exchange.cr user/BreakGlassReview.rsu user/Task.rus"


def test_an_upgraded_console_client_may_read_the_disclosures_and_others_are_untouched(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_to(url, "0011_form_sends")
    rows = {"phr-console": ("portal", OLD_CONSOLE),
            "cardiology": ("department", "system/*.rs system/Exchange.cr system/Consent.r")}
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, (kind, scope) in rows.items():
                conn.execute(CLIENTS.insert().values(client_id=name, kind=kind, name=name, secret_hash=None,
                                                     jwks=None, scope=scope, redirect_uris="[]", created_at=0))
        migrate(url, MIGRATIONS_DIR)
        with engine.connect() as conn:
            after = dict(conn.execute(sa.select(CLIENTS.c.client_id, CLIENTS.c.scope)).all())
    finally:
        engine.dispose()
    assert after["phr-console"] == OLD_CONSOLE + " user/AuditEvent.rs"
    assert after["cardiology"] == rows["cardiology"][1]
