"""The seeding API: departments, their keys, the portal client."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from joserfc.jwk import RSAKey

from gateway import MIGRATIONS_DIR
from gateway.admin.clients import ensure_department, ensure_portal_client, main, register_department_jwks
from gateway.authz.departments import DEPARTMENT_SCOPES, scopes_for
from services.common.db import make_engine, migrate


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/gw.db"
    migrate(url, MIGRATIONS_DIR)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _client_row(engine, client_id):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM clients WHERE client_id = :c"),
                            {"c": client_id}).mappings().one()


def test_a_department_gets_a_secret_once_and_only_its_hash_is_stored(engine):
    created = ensure_department(engine, "cardiology", scopes_for("cardiology"))
    again = ensure_department(engine, "cardiology", scopes_for("cardiology"))
    assert created["client_id"] == "cardiology" and len(created["client_secret"]) >= 40
    assert again == {"client_id": "cardiology", "client_secret": None}
    row = _client_row(engine, "cardiology")
    assert created["client_secret"] not in json.dumps(dict(row))
    assert row["scope"] == "system/*.rs system/Exchange.cr system/Consent.r"


def test_the_default_department_scopes_follow_the_table():
    assert scopes_for("primary-care").endswith("system/*.cu")
    assert "system/BreakGlass.c" in scopes_for("emergency").split()
    assert not any("BreakGlass" in scopes_for(d) for d in ("primary-care", "cardiology", "research"))
    assert scopes_for("research") == "system/Exchange.cr system/Consent.r"
    assert scopes_for("dermatology") == DEPARTMENT_SCOPES["cardiology"]


def test_a_department_jwks_is_stored_without_private_parts(engine):
    ensure_department(engine, "emergency", scopes_for("emergency"))
    key = RSAKey.generate_key(2048, auto_kid=True)
    register_department_jwks(engine, "emergency", {"keys": [key.as_dict(private=True)]})
    stored = json.loads(_client_row(engine, "emergency")["jwks"])
    assert stored["keys"][0]["kid"] == key.kid and "d" not in stored["keys"][0]
    with pytest.raises(LookupError):
        register_department_jwks(engine, "nobody", {"keys": [key.as_dict(private=False)]})


def test_the_portal_client_is_public_and_its_redirect_uris_can_change(engine):
    assert ensure_portal_client(engine, ["http://a.test/cb"]) == {"client_id": "phr-portal",
                                                                  "redirect_uri": "http://a.test/cb"}
    ensure_portal_client(engine, ["http://b.test/cb", "http://c.test/cb"])
    row = _client_row(engine, "phr-portal")
    assert row["secret_hash"] is None and json.loads(row["redirect_uris"]) == ["http://b.test/cb",
                                                                               "http://c.test/cb"]


def test_the_command_line_creates_a_department(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHR_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    assert main(["department", "research"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["client_id"] == "research" and out["client_secret"]
