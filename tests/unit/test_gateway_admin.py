"""The seeding API: departments (with their directory entries), their keys, the administrators'
client, the portal client, and the command line over them."""
from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from joserfc.jwk import RSAKey

from contracts.events import problems
from gateway import MIGRATIONS_DIR
from gateway.admin.clients import (ensure_admin_client, ensure_portal_client, main, register_department,
                                   register_department_jwks)
from services.common.db import make_engine, migrate
from tests.support.directory import DEMO_DEPARTMENTS


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


def _outbox(engine) -> list[dict]:
    with engine.connect() as conn:
        return [json.loads(p) for (p,) in conn.execute(sa.text("SELECT payload FROM outbox ORDER BY seq"))]


CARDIOLOGY = next(d for d in DEMO_DEPARTMENTS if d["department"] == "cardiology")


def test_a_department_gets_a_secret_once_and_only_its_hash_is_stored(engine):
    created = register_department(engine, CARDIOLOGY)
    assert created["client_id"] == "cardiology" and len(created["client_secret"]) >= 40
    with pytest.raises(ValueError, match="taken"):
        register_department(engine, CARDIOLOGY)
    row = _client_row(engine, "cardiology")
    assert created["client_secret"] not in json.dumps(dict(row))
    assert row["scope"] == created["scope"] == "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd"
    [event] = _outbox(engine)
    assert event["type"] == "phr.directory.department-registered" and problems(event) == []
    assert event["data"] == created["entry"] and created["entry"]["names"]["es"] == "Cardiología"


@pytest.mark.parametrize("entry", [{**CARDIOLOGY, "department": "Cardio"}, {**CARDIOLOGY, "kind": "billing"},
                                   {**CARDIOLOGY, "kind": "research", "may_write_records": True},
                                   {**CARDIOLOGY, "names": {"en": "Cardiology"}}])
def test_an_entry_that_breaks_the_contract_is_refused_and_stores_nothing(engine, entry):
    with pytest.raises(ValueError, match="not a department entry"):
        register_department(engine, entry)
    assert _outbox(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM clients")).scalar() == 0


def test_the_administrators_client_holds_only_the_admin_scope_and_a_new_secret_each_time(engine):
    first, second = ensure_admin_client(engine), ensure_admin_client(engine)
    assert first["client_id"] == second["client_id"] == "phr-admin"
    assert first["client_secret"] != second["client_secret"]
    row = _client_row(engine, "phr-admin")
    assert row["kind"] == "admin" and row["scope"] == "admin/Departments.crus"
    assert row["secret_hash"] == hashlib.sha256(second["client_secret"].encode()).hexdigest()


def test_a_department_jwks_is_stored_without_private_parts(engine):
    register_department(engine, next(d for d in DEMO_DEPARTMENTS if d["department"] == "emergency"))
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


@pytest.fixture
def gateway_env(tmp_path, monkeypatch):
    """The command line's gateway database: a SQLite file under TMP_PATH."""
    monkeypatch.setenv("PHR_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    return tmp_path


def _printed(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_command_line_registers_a_clinical_department_named_after_its_id(gateway_env, capsys):
    assert main(["department", "research"]) == 0
    out = _printed(capsys)
    assert out["client_id"] == "research" and out["client_secret"]
    assert out["entry"]["kind"] == "clinical" and out["entry"]["names"] == {"en": "research", "es": "research"}
    assert out["scope"] == "system/*.rs system/Exchange.cr system/Consent.r system/Subscription.cd"


def test_the_command_line_takes_names_kind_and_rights(gateway_env, capsys):
    assert main(["department", "physiotherapy", "--name", "en=Physiotherapy", "--name", "es=Fisioterapia",
                 "--writes", "--emergencies"]) == 0
    out = _printed(capsys)
    assert out["entry"]["names"] == {"en": "Physiotherapy", "es": "Fisioterapia"}
    assert out["scope"].split()[-2:] == ["system/*.cud", "system/BreakGlass.c"]
    assert main(["department", "trials", "--kind", "research"]) == 0
    assert _printed(capsys)["scope"] == "system/Exchange.cr system/Consent.r"


@pytest.mark.parametrize("argv,says", [
    (["department", "research", "--scopes", "system/*.*"], "kind and rights"),
    (["department", "Research"], "not a department entry"),
    (["department", "trials", "--kind", "research", "--emergencies"], "not a department entry"),
    (["department", "trials", "--name", "Trials"], "LANG=TEXT"),
])
def test_the_command_line_refuses_what_the_directory_would_not_take(gateway_env, capsys, argv, says):
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def test_the_command_line_refuses_an_id_taken_twice(gateway_env, capsys):
    assert main(["department", "research"]) == 0
    assert main(["department", "research"]) == 2
    assert "taken" in capsys.readouterr().err


def test_the_command_line_creates_the_administrators_client(gateway_env, capsys):
    assert main(["admin-client"]) == 0
    out = _printed(capsys)
    assert out["client_id"] == "phr-admin" and len(out["client_secret"]) >= 40
