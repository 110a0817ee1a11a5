"""When the consent database is away, decisions fail closed and the expiry sweep keeps going."""
import threading

import sqlalchemy as sa

from services.common.config import load_settings
from services.common.db import make_engine
from services.consent.bootstrap import bootstrap
from services.consent.entrypoints.worker import sweep_forever


def test_a_decision_without_its_database_is_an_error_never_a_permit(service_apps, mint):
    client, engine = service_apps.consent()  # on a SQLite file
    me = mint.patient("pat-1", scope="patient/Consent.cruds")
    assert client.post("/patient/v1/consents", headers=me, json={
        "grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"]}).status_code == 201
    with engine.begin() as conn:  # the database loses its consents table: a broken dependency
        conn.execute(sa.text("ALTER TABLE consents RENAME TO consents_away"))
    resp = client.post("/consent/v1/decisions", headers=mint.department("cardiology", "system/Consent.r"),
                       json={"patient": "pat-1", "actor": "cardiology", "purpose": "TREAT",
                             "classes": ["Observation"]})
    assert resp.status_code >= 500
    assert resp.mimetype == "application/problem+json" and "permit" not in resp.get_data(as_text=True)


def test_the_expiry_sweep_survives_a_database_outage(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'missing' / 'nowhere' / 'consent.db'}"
    engine = make_engine(url)  # never migrated: every sweep fails
    consent = bootstrap(load_settings("consent", {"PHR_VAR_DIR": str(tmp_path)}, database_url=url), engine)
    stop = threading.Event()
    thread = threading.Thread(target=sweep_forever, args=(consent, stop, 0.01))
    thread.start()
    stop.wait(0.1)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert "expiry sweep failed" in caplog.text
