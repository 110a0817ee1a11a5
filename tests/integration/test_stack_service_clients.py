"""The services' own OAuth clients (launcher/service_clients.py), as `make up` and compose's
migrate step make them: on the gateway's real database, checked at its real token endpoint."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from launcher import service_clients
from services.common.config import load_settings
from tests.support.gateway import basic


@pytest.fixture
def gateway_config(gateway_config, database_url) -> dict:
    """The gateway on the test's database (SQLite, then PostgreSQL)."""
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def env(app, gateway_config, tmp_path) -> dict[str, str]:
    """The environment of the migrate step: the gateway's database, the secret file's place."""
    return {"GATEWAY_DATABASE_URL": gateway_config["database_url"], "PHR_VAR_DIR": str(tmp_path),
            "EXCHANGE_CLIENT_SECRET_FILE": str(tmp_path / "secrets" / "exchange-client-secret")}


def _token(client, secret: str):
    return client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "system/Consent.r"},
                       headers=basic("exchange-service", secret))


def test_the_exchange_client_is_made_with_a_secret_in_an_owner_only_file_that_gets_a_token(client, env):
    handed = service_clients.ensure(env)

    path = env["EXCHANGE_CLIENT_SECRET_FILE"]
    assert handed == {"EXCHANGE_CLIENT_ID": "exchange-service", "EXCHANGE_CLIENT_SECRET_FILE": path}
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    secret = Path(path).read_text().strip()
    resp = _token(client, secret)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json["scope"] == "system/Consent.r"


def test_making_them_again_keeps_the_secret_running_processes_hold(client, env):
    service_clients.ensure(env)
    first = Path(env["EXCHANGE_CLIENT_SECRET_FILE"]).read_text()

    service_clients.ensure(env)

    assert Path(env["EXCHANGE_CLIENT_SECRET_FILE"]).read_text() == first
    assert _token(client, first.strip()).status_code == 200


def test_a_file_whose_secret_the_gateway_does_not_accept_is_replaced_by_one_it_does(client, env):
    path = Path(env["EXCHANGE_CLIENT_SECRET_FILE"])
    service_clients.ensure(env)
    path.write_text("not-the-secret\n")

    service_clients.ensure(env)

    secret = path.read_text().strip()
    assert secret != "not-the-secret"
    assert _token(client, "not-the-secret").status_code == 401
    assert _token(client, secret).status_code == 200


def test_a_widened_secret_file_is_narrowed_to_the_owner(env):
    service_clients.ensure(env)
    path = Path(env["EXCHANGE_CLIENT_SECRET_FILE"])
    path.chmod(0o644)

    service_clients.ensure(env)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_exchange_reads_its_secret_from_the_file_and_the_plain_variable_first(env):
    service_clients.ensure(env)
    secret = Path(env["EXCHANGE_CLIENT_SECRET_FILE"]).read_text().strip()

    assert load_settings("exchange", env).client_secret == secret
    assert load_settings("exchange", {**env, "EXCHANGE_CLIENT_SECRET": "given"}).client_secret == "given"
    assert load_settings("exchange", {"EXCHANGE_CLIENT_SECRET_FILE": "/nonexistent/x"}).client_secret is None
