"""Gateway migration 0008: every department client registered before the directory gets an entry
(kind and rights from its scopes) and a registered event in the outbox, so that an upgraded
deployment keeps working; the clients keep their scopes."""
import hashlib
import json

import sqlalchemy as sa

from contracts.events import problems
from gateway import MIGRATIONS_DIR, schema
from gateway.app import create_app
from services.common.db import make_engine, migrate
from tests.support.gateway import CLIENTS, ISSUER, basic, upgrade_to

BEFORE = {  # what departments held when they were code, and a few an operator may have made
    "primary-care": "system/*.rs system/Exchange.cr system/Consent.r system/*.cu",
    "cardiology": "system/*.rs system/Exchange.cr system/Consent.r",
    "emergency": "system/*.rs system/Exchange.cr system/Consent.r system/BreakGlass.c",
    "research": "system/Exchange.cr system/Consent.r",
    "oversight": "system/Equity.r",
    "physical-therapy": "system/*.* system/Exchange.cr",
    "Billing_Office": "system/*.rs",
}
OTHERS = {"phr-portal": ("portal", "openid patient/*.rs"), "exchange-service": ("service", "system/Consent.r")}


def _upgraded(url: str) -> tuple[dict, list[dict], dict]:
    upgrade_to(url, "0007_portal_corrections_scope")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, scope in BEFORE.items():
                conn.execute(CLIENTS.insert().values(client_id=name, kind="department", name=name,
                                                     secret_hash="x", jwks=None, scope=scope,
                                                     redirect_uris="[]", created_at=0))
            for name, (kind, scope) in OTHERS.items():
                conn.execute(CLIENTS.insert().values(client_id=name, kind=kind, name=name, secret_hash=None,
                                                     jwks=None, scope=scope, redirect_uris="[]", created_at=0))
        migrate(url, MIGRATIONS_DIR)
        with engine.connect() as conn:
            entries = {r["id"]: dict(r) for r in conn.execute(sa.select(schema.departments)).mappings()}
            outbox = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.seq)).mappings().all()
            scopes = dict(conn.execute(sa.select(schema.clients.c.client_id, schema.clients.c.scope)).all())
    finally:
        engine.dispose()
    assert all(r["topic"] == "phr.directory.v1" and r["key"] == json.loads(r["payload"])["subject"]
               for r in outbox)
    return entries, [json.loads(r["payload"]) for r in outbox], scopes


def test_every_department_client_gets_an_entry_from_its_scopes(database_url):
    entries, _, scopes = _upgraded(database_url)
    assert set(entries) == set(BEFORE) - {"Billing_Office"}  # not a department id: no entry
    kinds = {name: (e["kind"], e["may_write_records"], e["may_claim_emergencies"]) for name, e in entries.items()}
    assert kinds == {"primary-care": ("clinical", True, False), "cardiology": ("clinical", False, False),
                     "emergency": ("clinical", False, True), "research": ("research", False, False),
                     "oversight": ("oversight", False, False),
                     "physical-therapy": ("clinical", True, False)}
    assert json.loads(entries["emergency"]["names"]) == {"en": "Emergency", "es": "Urgencias"}
    assert json.loads(entries["physical-therapy"]["names"]) == {"en": "Physical therapy", "es": "Physical therapy"}
    assert {e["status"] for e in entries.values()} == {"active"} and {e["version"] for e in entries.values()} == {1}
    kept = {n: s for n, (_k, s) in OTHERS.items()}
    # given by the later migrations 0013 (reports) and 0020 (notice choices), not this one
    kept["phr-portal"] += " patient/Report.c patient/Communication.u"
    # writing covers deleting what a department holds since the later migration 0017
    written = {n: " ".join("system/*.cud" if w == "system/*.cu" else w for w in s.split()) for n, s in BEFORE.items()}
    # and clinical departments (system/*.rs) may subscribe since the later migration 0018
    written = {n: s + " system/Subscription.cd" if "system/*.rs" in s.split() else s for n, s in written.items()}
    assert scopes == {**written, **kept}  # the clients keep their scopes


def test_each_entry_is_queued_as_a_registered_event_that_conforms(database_url):
    entries, events, _ = _upgraded(database_url)
    assert sorted(e["subject"] for e in events) == sorted(entries)
    assert [problems(e) for e in events] == [[]] * len(entries)
    by_id = {e["subject"]: e for e in events}
    assert by_id["primary-care"]["type"] == "phr.directory.department-registered"
    assert by_id["primary-care"]["data"]["names"] == {"en": "Primary care", "es": "Atención primaria"}
    assert by_id["oversight"]["data"]["kind"] == "oversight"


def test_an_upgraded_department_still_gets_its_tokens_and_can_be_disabled(database_url, tmp_path):
    _upgraded(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:  # a secret we know, for the token endpoint
            conn.execute(sa.update(schema.clients).where(schema.clients.c.client_id == "cardiology")
                         .values(secret_hash=hashlib.sha256(b"s3cret").hexdigest()))
    finally:
        engine.dispose()
    app = create_app({"TESTING": True, "var_dir": tmp_path, "database_url": database_url, "issuer": ISSUER,
                      "audience": ISSUER, "jwks_url": ISSUER + "/oauth/jwks", "REVOCATION_REFRESH_SECONDS": 0.0})
    try:
        client = app.test_client()
        token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers=basic("cardiology", "s3cret"))
        assert token.status_code == 200 and token.json["scope"] == BEFORE["cardiology"] + " system/Subscription.cd"
        store = app.extensions["gateway"].stores.directory
        entry, changed = store.disable("cardiology", "Merged into another department.")
        assert changed and entry["version"] == 2
        again = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers=basic("cardiology", "s3cret"))
        assert again.status_code == 401
    finally:
        app.extensions["gateway"].engine.dispose()
