"""Gateway migration 0007: the portal registered before correction requests needed
patient/Task.c is given it, so an upgraded deployment's patients can still ask for corrections."""
import sqlalchemy as sa

from gateway import MIGRATIONS_DIR
from services.common.db import make_engine, migrate
from tests.support.gateway import CLIENTS, upgrade_to

OLD_PORTAL = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c"


def test_an_upgraded_portal_client_may_ask_for_corrections_and_departments_are_untouched(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_to(url, "0006_break_glass_scope")
    rows = {"phr-portal": ("portal", OLD_PORTAL), "a-read-only-app": ("portal", "openid patient/Patient.r"),
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
    assert after["phr-portal"] == OLD_PORTAL + " patient/Task.c"
    assert after["a-read-only-app"] == rows["a-read-only-app"][1]
    assert after["cardiology"] == rows["cardiology"][1]
