"""Where a department takes signed notices (revocation receipts), on the gateway, on SQLite and
PostgreSQL with real tokens: the operator (PUT /admin/v1/departments/{id}/webhook) or the
department's own admin (PUT /staff/v1/admin/webhook) sets it in the directory entry, whose event
carries it to the exchange; bad URLs and the wrong callers change nothing; and the gateway's JWK
Set publishes the public part of the exchange's webhook key beside its token key."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from contracts.events import problems
from gateway import schema, storage
from gateway.app import create_app
from services.exchange.adapters.webhooks import Signer
from tests.support.gateway import admin_token, bearer, department, department_token, make_patient, sign_in
from tests.support.staff import console_directory, gateway_staff_store, person, staff_tokens

URL = "https://cardiology.example.org/phr/notices"


@pytest.fixture
def gateway_config(gateway_config, database_url):
    return {**gateway_config, "database_url": database_url}


@pytest.fixture
def clock(monkeypatch):
    now = {"at": int(time.time()) // 30 * 30 + 10}
    monkeypatch.setattr(storage, "now", lambda: now["at"])
    return now


@pytest.fixture
def people(client, engine, clock):
    """Cardiology's admin and a clinician, signed in: {role: access token}."""
    directory = console_directory(engine)
    staff = gateway_staff_store(engine)
    tokens = {}
    for role, username in (("admin", "ada.admin"), ("clinician", "dr.ruiz")):
        account, secret, _codes = person(staff, directory, clock, username=username, roles=(role,))
        tokens[role] = staff_tokens(client, account.username, secret, clock)["access_token"]
    return tokens


def state(engine) -> dict:
    with engine.connect() as conn:
        return {"departments": conn.execute(sa.select(schema.departments)).all(),
                "outbox": conn.execute(sa.select(schema.outbox.c.payload)).all()}


def events(engine) -> list[dict]:
    with engine.connect() as conn:
        return [json.loads(r.payload) for r in conn.execute(sa.select(schema.outbox.c.payload)
                                                            .order_by(schema.outbox.c.seq))]


def put(client, path, body, token=None):
    return client.put(path, json=body, headers=bearer(token) if token else {})


def test_the_operator_sets_and_removes_a_departments_webhook_and_each_change_is_an_event(client, engine, people):
    admin = admin_token(client, engine)
    before = len(events(engine))
    resp = put(client, "/admin/v1/departments/cardiology/webhook", {"webhook_url": URL}, admin)
    assert resp.status_code == 200, resp.json
    assert resp.json["webhook_url"] == URL and resp.json["version"] == 2
    assert put(client, "/admin/v1/departments/cardiology/webhook", {"webhook_url": URL}, admin).json["version"] == 2
    assert client.get("/admin/v1/departments/cardiology", headers=bearer(admin)).json["webhook_url"] == URL
    gone = put(client, "/admin/v1/departments/cardiology/webhook", {"webhook_url": None}, admin)
    assert gone.status_code == 200 and "webhook_url" not in gone.json and gone.json["version"] == 3
    new = events(engine)[before:]
    assert [e["data"].get("webhook_url") for e in new] == [URL, None], "the same URL again is no change"
    assert all(problems(e) == [] for e in new)
    assert put(client, "/admin/v1/departments/no-such/webhook", {"webhook_url": URL}, admin).status_code == 404


def test_a_departments_admin_sets_its_own_webhook_and_a_clinician_cannot(client, engine, people):
    resp = put(client, "/staff/v1/admin/webhook", {"webhook_url": URL}, people["admin"])
    assert resp.status_code == 200, resp.json
    assert resp.json["department"] == "cardiology" and resp.json["webhook_url"] == URL
    before = state(engine)
    refused = put(client, "/staff/v1/admin/webhook", {"webhook_url": "https://elsewhere.example.org/"},
                  people["clinician"])
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"
    assert state(engine) == before


@pytest.mark.parametrize("body", [
    {"webhook_url": "ftp://cardiology.example.org/notices"}, {"webhook_url": "not a url"},
    {"webhook_url": "https://user:secret@cardiology.example.org/"}, {"webhook_url": "https://x.org/" + "a" * 2000},
    {"webhook_url": 7}, {}, {"webhook_url": URL, "extra": 1}, [URL]])
def test_a_bad_url_is_a_422_that_changes_nothing(client, engine, people, body):
    admin = admin_token(client, engine)
    before = state(engine)
    for path, token in (("/admin/v1/departments/cardiology/webhook", admin), ("/staff/v1/admin/webhook", people["admin"])):
        resp = put(client, path, body, token)
        assert resp.status_code == 422 and resp.content_type == "application/problem+json", (path, resp.json)
    assert state(engine) == before


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/phr/notices", "https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook",
    "https://192.168.1.1:8443/", "https://[::1]/hook", "https://0.0.0.0/", "http://93.184.216.34/plain-http"])
def test_a_url_at_an_inside_address_or_plain_http_not_allowed_is_a_422_that_stores_nothing(client, engine, people, url):
    """The allow list (SUBSCRIPTION_ENDPOINT_ALLOW) is empty here: only public addresses over
    https (services/common/outbound.py, the exchange's rule for every callback)."""
    admin = admin_token(client, engine)
    before = state(engine)
    for path, token in (("/admin/v1/departments/cardiology/webhook", admin), ("/staff/v1/admin/webhook", people["admin"])):
        resp = put(client, path, {"webhook_url": url}, token)
        assert resp.status_code == 422 and resp.content_type == "application/problem+json", (path, url, resp.json)
        assert resp.json["fields"] == ["webhook_url"], resp.json
    assert state(engine) == before


def test_an_allowed_inside_address_may_take_notices_over_plain_http(app, gateway_config, engine, people):
    """SUBSCRIPTION_ENDPOINT_ALLOW opens an inside address (the tests' receivers on 127.0.0.1)."""
    allowed = create_app({**gateway_config, "subscription_endpoint_allow": ("127.0.0.1",)})
    with allowed.test_client() as other:
        resp = put(other, "/admin/v1/departments/cardiology/webhook", {"webhook_url": "http://127.0.0.1:9/hook"},
                   admin_token(other, engine))
    assert resp.status_code == 200 and resp.json["webhook_url"] == "http://127.0.0.1:9/hook", resp.json


def test_without_a_token_or_with_the_wrong_one_nothing_changes(client, engine, people):
    make_patient(engine)
    patient = sign_in(client, engine)["access_token"]
    dept = department_token(client, department(engine, "wildcards", scopes="system/*.cruds"))
    before = state(engine)
    for path in ("/admin/v1/departments/cardiology/webhook", "/staff/v1/admin/webhook"):
        assert put(client, path, {"webhook_url": URL}).status_code == 401
        for token in (patient, dept, people["clinician"]):
            assert put(client, path, {"webhook_url": URL}, token).status_code == 403, (path, token[:8])
    assert put(client, "/admin/v1/departments/cardiology/webhook", {"webhook_url": URL},
               people["admin"]).status_code == 403, "a department's admin is not the operator"
    assert state(engine) == before


def test_the_jwk_set_publishes_the_public_part_of_the_exchanges_webhook_key_once_it_exists(client, app):
    settings = app.extensions["gateway"].settings
    assert len(client.get("/oauth/jwks").json["keys"]) == 1, "no webhook key yet: the token key alone"
    # the key is made when first asked (the exchange's worker asks at start), its public part beside it
    kid = Signer(settings.webhook_key_file, settings.webhook_public_key_file).kid
    keys = client.get("/oauth/jwks").json["keys"]
    assert [k["alg"] for k in keys] == ["RS256", "ES256"]
    assert keys[1]["kid"] == kid and "d" not in keys[1], "never the private part"


def test_the_gateway_reads_only_the_public_file_never_the_exchanges_private_key(client, app, tmp_path):
    settings = app.extensions["gateway"].settings
    signer = Signer(tmp_path / "exchange-only" / "key.json", settings.webhook_public_key_file)
    kid = signer.kid
    assert not settings.webhook_key_file.exists(), "only the public file is where the gateway looks"
    keys = client.get("/oauth/jwks").json["keys"]
    assert [(k["alg"], k.get("kid")) for k in keys][1:] == [("ES256", kid)] and "d" not in keys[1]
    assert "d" not in json.loads(settings.webhook_public_key_file.read_text()), "the file holds no private part"

    settings.webhook_public_key_file.unlink()
    Signer(settings.webhook_key_file).kid  # a private key where the gateway's settings name one
    assert len(client.get("/oauth/jwks").json["keys"]) == 1, "a private key file alone is never read"


def test_an_oversized_body_or_a_revoked_admin_token_changes_nothing(client, engine, people):
    before = state(engine)
    huge = {"webhook_url": "https://cardiology.example.org/" + "a" * 2_000_000}
    resp = put(client, "/staff/v1/admin/webhook", huge, people["admin"])
    assert resp.status_code in (413, 422) and resp.content_type.startswith("application/problem+json")
    revoked = client.post("/oauth/revoke", data={"token": people["admin"], "client_id": "phr-console"})
    assert revoked.status_code == 200
    assert put(client, "/staff/v1/admin/webhook", {"webhook_url": URL}, people["admin"]).status_code == 401
    assert state(engine) == before
