"""What two gateways must share, shared: rate limits counted in the real Redis, signing and session
keys read from the operator's files (with a change of keys); and what happens when Redis is away."""
from __future__ import annotations

import json
import re
import secrets

import pytest
import requests
from joserfc.jwk import RSAKey

from gateway import MIGRATIONS_DIR
from gateway.app import create_app
from gateway.authz.keys import KeyFileError
from tests.security.gateway_server import GatewayServer
from tests.support.databases import from_template
from tests.support.gateway import activate, bearer, department, department_token
from tests.support.patient_apps import register
from tests.support.redis import RedisLine, unreachable_redis_url


@pytest.fixture
def two_gateways(gateway_config, redis_store):
    """Two gateway apps, as on two hosts: one database, one var/ for nothing shared by accident
    but the keys, one Redis under this test's prefix."""
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)

    def make(**overrides):
        return create_app({**gateway_config, **redis_store.settings, **overrides})
    return make


def alternate(clients, send, times: int) -> list[int]:
    """Send TIMES requests, taking turns between CLIENTS; the statuses."""
    return [send(clients[i % len(clients)]).status_code for i in range(times)]


def test_two_gateways_with_redis_share_one_budget_of_activation_tries(two_gateways, redis_store):
    first, second = (two_gateways(ACTIVATION_ATTEMPTS_PER_MINUTE=3).test_client() for _ in range(2))
    statuses = alternate([first, second], lambda c: activate(c, "AAAA-BBBB-CCCC"), 5)
    assert statuses == [400, 400, 400, 429, 429]
    assert redis_store.keys() and all(k.startswith(redis_store.prefix + ":") for k in redis_store.keys())


def test_two_gateways_without_redis_each_count_their_own_tries(gateway_config):
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)
    first, second = (create_app({**gateway_config, "ACTIVATION_ATTEMPTS_PER_MINUTE": 3}).test_client()
                     for _ in range(2))
    # the embedded stack's default: each process its own budget (README, "Running N instances")
    assert alternate([first, second], lambda c: activate(c, "AAAA-BBBB-CCCC"), 6) == [400] * 6


def test_two_gateways_with_redis_share_one_proxy_rate_per_client(two_gateways, upstream):
    apps = [two_gateways(rate_limit_per_second=0.5, rate_limit_burst=3) for _ in range(2)]
    clients = [app.test_client() for app in apps]
    token = department_token(clients[0], department(apps[0].extensions["gateway"].engine))
    statuses = alternate(clients, lambda c: c.get("/fhir/Patient/p-1", headers=bearer(token)), 5)
    assert statuses == [200, 200, 200, 429, 429] and len(upstream.requests) == 3
    refused = clients[1].get("/fhir/Patient/p-1", headers=bearer(token))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


# -- Redis away -------------------------------------------------------------------------------------

@pytest.fixture
def redis_down(gateway_config):
    """A gateway whose REDIS_URL points at a port nothing listens on."""
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)
    return create_app({**gateway_config, "redis_url": unreachable_redis_url(),
                       "redis_key_prefix": "phr-test-down"})


def test_with_redis_away_activation_is_refused_with_a_429_that_says_why(redis_down, caplog):
    client = redis_down.test_client()
    for _ in range(2):
        resp = client.post("/accounts/v1/activate", json={"code": "AAAA-BBBB-CCCC", "birth_date": "1961-04-02",
                                                          "username": "maria", "password": "a long passphrase"})
        assert resp.status_code == 429 and resp.mimetype == "application/problem+json"
        assert resp.headers["Retry-After"].isdigit() and int(resp.headers["Retry-After"]) >= 1
        assert resp.json["type"].endswith("/limits-unavailable") and "cannot count tries" in resp.json["detail"]
    spanish = client.post("/accounts/v1/activate", json={}, headers={"Accept-Language": "es"})
    assert spanish.status_code == 429 and "cannot count" not in spanish.json["detail"]
    outages = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(outages) == 1 and "'activation'" in outages[0].getMessage()  # said once, not per try


def test_with_redis_away_the_proxy_lets_requests_through_and_says_so_once(redis_down, upstream, caplog):
    client = redis_down.test_client()
    token = department_token(client, department(redis_down.extensions["gateway"].engine))
    statuses = [client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200] and len(upstream.requests) == 3
    outages = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(outages) == 1 and "'proxy'" in outages[0] and "pass unlimited" in outages[0]


def test_with_redis_away_registering_an_app_and_joining_with_an_invite_are_refused_and_page_answers_not_counted(
        tmp_path):
    with GatewayServer(tmp_path, f"sqlite:///{tmp_path}/gw.db", redis_url=unreachable_redis_url()) as server:
        registered = register(server.url)
        assert registered.status_code == 429 and registered.headers["Retry-After"].isdigit()
        assert "cannot count tries" in registered.json()["detail"]
        s = requests.Session()
        form = s.get(server.url + "/console/join", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        joined = s.post(server.url + "/console/join", timeout=30, data={
            "csrf_token": token, "code": "AAAA-BBBB-CCCC", "username": "guess", "password": "x" * 16})
        assert joined.status_code == 429 and "We cannot check invite codes right now." in joined.text
        home = s.get(server.url + "/", timeout=30)
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                               re.search(r'<form class="page-answer".*?</form>', home.text, re.S).group(0)))
        answered = s.post(server.url + "/portal/page-answer", data={**form, "answer": "yes"}, timeout=30)
        assert answered.status_code == 200 and "Thank you for your answer." in answered.text  # never refused
        assert server.stores.page_answers.counts() == []  # ... but not counted while nothing can be counted


def test_when_redis_comes_back_the_budget_it_kept_counts_again(gateway_config, redis_store, upstream,
                                                               monkeypatch):
    monkeypatch.setattr("gateway.proxy.ratelimit.RECHECK_SECONDS", 0.0)  # ask Redis again at once
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)
    with RedisLine() as line:
        app = create_app({**gateway_config, "redis_url": line.url, "redis_key_prefix": redis_store.prefix,
                          "ACTIVATION_ATTEMPTS_PER_MINUTE": 3})
        client = app.test_client()
        token = department_token(client, department(app.extensions["gateway"].engine))
        assert [activate(client, "AAAA-BBBB-CCCC").status_code for _ in range(2)] == [400, 400]

        line.cut()
        away = activate(client, "AAAA-BBBB-CCCC")
        assert away.status_code == 429 and away.json["type"].endswith("/limits-unavailable")
        assert client.get("/fhir/Patient/p-1", headers=bearer(token)).status_code == 200

        line.mend()
        # the two tries before the outage still count: one left, then "too many"
        statuses = [activate(client, "AAAA-BBBB-CCCC") for _ in range(2)]
        assert [r.status_code for r in statuses] == [400, 429]
        assert statuses[1].json["type"].endswith("/too-many-requests")


# -- keys given by the operator ---------------------------------------------------------------------

def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256", "kid": kid})


def write_keys(path, *keys: RSAKey):
    path.write_text(json.dumps({"keys": [key.as_dict(private=True) for key in keys]}))
    path.chmod(0o600)
    return path


def test_a_token_signed_by_the_old_key_is_still_good_while_both_keys_are_in_the_file(gateway_config, upstream,
                                                                                       tmp_path):
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)
    old, new = rsa_key("2026-11"), rsa_key("2026-12")
    key_file = write_keys(tmp_path / "signing.jwks", old)
    before = create_app({**gateway_config, "signing_key_file": key_file})
    client = before.test_client()
    creds = department(before.extensions["gateway"].engine)
    old_token = department_token(client, creds)
    assert [k["kid"] for k in client.get("/oauth/jwks").json["keys"]] == ["2026-11"]
    assert not (tmp_path / "gateway-signing-key.json").exists()  # nothing made in var/

    # step 1 of a change: the new key first, the old one after it, on every gateway
    write_keys(key_file, new, old)
    during = create_app({**gateway_config, "signing_key_file": key_file}).test_client()
    assert [k["kid"] for k in during.get("/oauth/jwks").json["keys"]] == ["2026-12", "2026-11"]
    assert during.get("/fhir/Patient/p-1", headers=bearer(old_token)).status_code == 200
    introspected = during.post("/oauth/introspect", data={"token": old_token},
                               headers=_basic(creds))
    assert introspected.json["active"] is True
    new_token = department_token(during, creds)
    assert json.loads(_segment(new_token))["kid"] == "2026-12"

    # step 2, once the old key's tokens have expired: the old key leaves the file
    write_keys(key_file, new)
    after = create_app({**gateway_config, "signing_key_file": key_file}).test_client()
    assert after.get("/fhir/Patient/p-1", headers=bearer(new_token)).status_code == 200
    assert after.get("/fhir/Patient/p-1", headers=bearer(old_token)).status_code == 401


def test_a_session_cookie_signed_with_the_old_session_key_is_still_good_while_both_are_in_the_file(
        gateway_config, tmp_path):
    from_template(gateway_config["database_url"], MIGRATIONS_DIR)
    old, new = secrets.token_hex(32), secrets.token_hex(32)
    key_file = tmp_path / "session-keys"
    key_file.write_text(old + "\n")
    before = create_app({**gateway_config, "session_key_file": key_file})
    cookie = before.session_interface.get_signing_serializer(before).dumps({"csrf": "abc"})
    assert not (tmp_path / "gateway-session-key").exists()

    key_file.write_text(f"{new}\n{old}\n")
    during = create_app({**gateway_config, "session_key_file": key_file})
    assert during.secret_key == bytes.fromhex(new)
    assert during.session_interface.get_signing_serializer(during).loads(cookie) == {"csrf": "abc"}

    key_file.write_text(new + "\n")
    after = create_app({**gateway_config, "session_key_file": key_file})
    with pytest.raises(Exception, match="Signature"):
        after.session_interface.get_signing_serializer(after).loads(cookie)


@pytest.mark.parametrize("setting", ["signing_key_file", "session_key_file"])
def test_a_gateway_given_a_key_file_it_cannot_use_does_not_start_and_names_the_setting(gateway_config, tmp_path,
                                                                                       setting):
    bad = tmp_path / "bad-key"
    bad.write_text("not a key\n")
    with pytest.raises(KeyFileError, match=f"GATEWAY_{setting.upper()}={bad}: "):
        create_app({**gateway_config, setting: bad})


def _basic(creds: dict) -> dict:
    from tests.support.gateway import basic
    return basic(creds["client_id"], creds["client_secret"])


def _segment(token: str) -> str:
    import base64
    head = token.split(".")[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()
