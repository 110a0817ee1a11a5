"""Two gateway processes (two HTTP workers each, as ``make up`` runs them) on one PostgreSQL
database and one Redis, with the keys the operator gives them: a client's rate limit and the
activation tries hold across both, whichever gateway each request reaches."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from joserfc.jwk import RSAKey

from gateway import MIGRATIONS_DIR
from services.common.db import make_engine, migrate
from tests.support.broker import free_port
from tests.support.databases import postgres_available
from tests.support.gateway import Upstream, basic, department

ROOT = Path(__file__).resolve().parents[2]
BURST = 6  # a client's requests in any 30 s (RATE_LIMIT_BURST / RATE_LIMIT_PER_SECOND)
ACTIVATIONS = 4  # activation tries a minute from one address

pytestmark = pytest.mark.postgres


class GatewayProcess:
    """``python -m services.common.serve`` of the gateway, as the Procfile starts it."""

    def __init__(self, env: dict, var_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        var_dir.mkdir(parents=True)
        self.log_path = var_dir / "gateway.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.common.serve", "--threads", "4",
                 f"127.0.0.1:{self.port}", "gateway.app:create_app"],
                cwd=ROOT, env={**env, "PHR_VAR_DIR": str(var_dir), "GATEWAY_PORT": str(self.port),
                               "WEB_CONCURRENCY": "2"},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the gateway was not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def gateways(request, tmp_path, redis_store):
    """Two gateways on one fresh PostgreSQL database, one Redis, one set of key files."""
    if not postgres_available():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (set PHR_TEST_POSTGRES to one)")
    databases = request.getfixturevalue("postgres_databases")
    database_url = databases.take()
    migrate(database_url, MIGRATIONS_DIR)
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    signing = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256", "kid": "k1"})
    (keys / "signing.jwks").write_text(json.dumps({"keys": [signing.as_dict(private=True)]}))
    (keys / "session").write_text(secrets.token_hex(32) + "\n")
    upstream = Upstream().__enter__()
    issuer = "http://gateway.test"  # both answer for one issuer, as behind one load balancer
    env = {**os.environ, **redis_store.env, "GATEWAY_DATABASE_URL": database_url,
           "GATEWAY_SIGNING_KEY_FILE": str(keys / "signing.jwks"),
           "GATEWAY_SESSION_KEY_FILE": str(keys / "session"),
           "PHR_ISSUER": issuer, "RECORDS_URL": upstream.url, "CONSENT_URL": upstream.url,
           "EXCHANGE_URL": upstream.url, "RATE_LIMIT_PER_SECOND": str(BURST / 30),
           "RATE_LIMIT_BURST": str(BURST), "ACTIVATION_ATTEMPTS_PER_MINUTE": str(ACTIVATIONS),
           "LOG_FORMAT": "text"}
    env.pop("DATABASE_URL", None)
    started = [GatewayProcess(env, tmp_path / f"host-{n}") for n in (1, 2)]
    try:
        for gateway in started:
            gateway.wait_ready()
        engine = make_engine(database_url)
        creds = department(engine)
        engine.dispose()
        yield started, creds, upstream
    finally:
        for gateway in started:
            gateway.stop()
        upstream.__exit__(None, None, None)
        databases.drop(database_url)


def test_a_clients_rate_holds_across_two_gateways_sharing_redis(gateways):
    (first, second), creds, upstream = gateways
    issued = requests.post(first.url + "/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(creds["client_id"], creds["client_secret"]), timeout=10)
    assert issued.status_code == 200, issued.text
    headers = {"Authorization": "Bearer " + issued.json()["access_token"]}
    statuses = []
    for n in range(BURST + 4):  # each gateway gets every other request, its workers share them
        gateway = (first, second)[n % 2]
        statuses.append(requests.get(gateway.url + "/fhir/Patient/p-1", headers=headers, timeout=10).status_code)
    assert statuses == [200] * BURST + [429] * 4
    assert len(upstream.requests) == BURST
    refused = requests.get(second.url + "/fhir/Patient/p-1", headers=headers, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_activation_tries_from_one_address_hold_across_two_gateways_sharing_redis(gateways):
    (first, second), _creds, _upstream = gateways
    body = {"code": "AAAA-BBBB-CCCC", "birth_date": "1961-04-02", "username": "maria",
            "password": "a long passphrase"}
    statuses = [requests.post((first, second)[n % 2].url + "/accounts/v1/activate", json=body,
                              timeout=10).status_code for n in range(ACTIVATIONS + 2)]
    assert statuses == [400] * ACTIVATIONS + [429] * 2


def test_both_gateways_publish_the_operators_key_and_take_each_others_tokens(gateways):
    (first, second), creds, _upstream = gateways
    for gateway in (first, second):
        assert [k["kid"] for k in requests.get(gateway.url + "/oauth/jwks", timeout=10).json()["keys"]] == ["k1"]
    issued = requests.post(second.url + "/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(creds["client_id"], creds["client_secret"]), timeout=10)
    token = issued.json()["access_token"]
    fetched = requests.get(first.url + "/fhir/Patient/p-1", headers={"Authorization": "Bearer " + token},
                           timeout=10)
    assert fetched.status_code == 200
