"""Helpers for the gateway's tests: a real upstream HTTP server, clients' credentials and tokens,
the portal sign-in, caregivers. The fixtures (app, client, engine, upstream) are in tests/conftest.py."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from argon2 import profiles
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from gateway import MIGRATIONS_DIR, schema
from gateway.accounts.signin import password_hasher
from gateway.admin.clients import ensure_admin_client, ensure_portal_client, new_secret
from gateway.authz.departments import department_scopes
from gateway.authz.stores import ClientStore
from services.common.db import transaction
from tests.support.directory import entry
from tests.support.servers import serving_thread

ISSUER = "http://gateway.test"
REDIRECT_URI = "http://portal.test/callback"
#: Argon2id at its least work (one pass over 8 KiB) for the test gateways' passwords (their app
#: config PASSWORD_HASH_PARAMETERS) and the accounts tests store: the default parameters cost a
#: fifth of a second of CPU per hash or check. The demo stack keeps the defaults, and
#: tests/unit/test_gateway_password_hashes.py checks that they are the gateway's own.
CHEAP_HASHES = dataclasses.replace(profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1)
HASHER = password_hasher(CHEAP_HASHES)


class Upstream:
    """A tiny real HTTP server: records each request, answers with ``handler(request)``."""

    def __init__(self):
        self.requests: list[dict] = []
        self.handler = lambda req: Response(json.dumps({"ok": True}), 200,
                                            content_type="application/json")
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = serving_thread(self._server)

    def _wsgi(self, environ, start_response):
        req = Request(environ)
        self.requests.append({"method": req.method, "path": req.path,
                              "query": req.query_string.decode(), "headers": dict(req.headers),
                              "body": req.get_data()})
        return self.handler(req)(environ, start_response)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def basic(client_id: str, secret: str) -> dict:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def department(engine, name: str = "cardiology", scopes: str | None = None) -> dict:
    """A department's client alone, outside the directory (for tests of the OAuth endpoints and
    the proxy): the scopes of the demo's entry of NAME (a clinical one's when the demo has none),
    or SCOPES. Its secret is None when the client exists already. The directory's own path,
    entry and client and event together, is ``register`` below."""
    if scopes is None:
        demo = entry(name)
        scopes = department_scopes(demo["kind"], demo["may_write_records"], demo["may_claim_emergencies"])
    secret = new_secret()
    created = ClientStore(engine).add_department(name, scopes, secret)
    return {"client_id": name, "client_secret": secret if created else None}


def register(client, token: str, department: str = "physiotherapy", **body):
    """Register DEPARTMENT through the admin API (a clinical one named after it, unless BODY says)."""
    words = department.replace("-", " ").capitalize()
    body = {"department": department, "names": {"en": words, "es": words}, "kind": "clinical", **body}
    return client.post("/admin/v1/departments", json=body, headers=bearer(token))


def admin_token(client, engine) -> str:
    """A token of the administrators' client, phr-admin, from the token endpoint."""
    return department_token(client, ensure_admin_client(engine))


def department_token(client, creds: dict, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    resp = client.post("/oauth/token", data=data,
                       headers=basic(creds["client_id"], creds["client_secret"]))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def make_account(engine, username="ana", password="correct horse battery", patient="p-1") -> None:
    with transaction(engine) as conn:
        conn.execute(sa.insert(schema.accounts).values(
            id=str(uuid.uuid4()), username=username, password_hash=HASHER.hash(password),
            patient=patient, language="es", failed_logins=0, locked_until=0,
            created_at=int(time.time())))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str | None, method: str | None = "S256",
                     scope="openid fhirUser offline_access patient/*.rs") -> dict:
    params = {"response_type": "code", "client_id": "phr-portal", "redirect_uri": REDIRECT_URI,
              "scope": scope, "state": "xyz"}
    if challenge is not None:
        params["code_challenge"] = challenge
    if method is not None:
        params["code_challenge_method"] = method
    return params


def hidden_fields(html: str) -> dict:
    """Read the hidden inputs of the page's form (name -> value)."""
    import html as html_lib
    import re
    return {m.group(1): html_lib.unescape(m.group(2)) for m in
            re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)}


def login_for_code(client, params: dict, username="ana", password="correct horse battery") -> str:
    """Sign in through the HTML pages, allow, and return the code from the redirect."""
    page = client.get("/oauth/authorize", query_string=params)
    assert page.status_code == 200, page.get_data(as_text=True)
    form = hidden_fields(page.get_data(as_text=True))
    approval = client.post("/oauth/authorize", data={**form, "username": username, "password": password})
    assert approval.status_code == 200, approval.get_data(as_text=True)
    html = approval.get_data(as_text=True)
    assert 'name="decision" value="allow"' in html
    fields = hidden_fields(html)
    done = client.post("/oauth/authorize", data={**fields, "decision": "allow"})
    assert done.status_code == 302, done.get_data(as_text=True)
    query = parse_qs(urlsplit(done.headers["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def patient_tokens(client, engine, scope="openid fhirUser offline_access patient/*.rs",
                   username="ana", password="correct horse battery") -> dict:
    """Run the whole portal login and return the token response."""
    ensure_portal_client(engine, [REDIRECT_URI])
    verifier, challenge = pkce()
    code = login_for_code(client, authorize_params(challenge, scope=scope), username, password)
    resp = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "client_id": "phr-portal", "code_verifier": verifier})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


# -- migrations -------------------------------------------------------------------------------------

#: The gateway's clients table, as every migration so far leaves it.
CLIENTS = sa.table("clients", *(sa.column(c) for c in (
    "client_id", "kind", "name", "secret_hash", "jwks", "scope", "redirect_uris", "created_at")))


def upgrade_to(url: str, revision: str) -> None:
    """Migrate the gateway database at URL up to REVISION (not further)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, revision)


def scopes_after_upgrade(tmp_path, revision: str, rows: dict[str, tuple[str, str]],
                         to: str = "head") -> dict[str, str]:
    """Store the clients ROWS ({client_id: (kind, scope)}) in a gateway database at REVISION,
    migrate it to TO (the migration under test; later ones may add scopes of their own), and
    return each client's scope then."""
    from services.common.db import make_engine, migrate
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_to(url, revision)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, (kind, scope) in rows.items():
                conn.execute(CLIENTS.insert().values(client_id=name, kind=kind, name=name, secret_hash=None,
                                                     jwks=None, scope=scope, redirect_uris="[]", created_at=0))
        if to == "head":
            migrate(url, MIGRATIONS_DIR)
        else:
            upgrade_to(url, to)
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(CLIENTS.c.client_id, CLIENTS.c.scope)).all())
    finally:
        engine.dispose()


# -- activation and caregivers ---------------------------------------------------------------------

PASSWORD = "correct horse battery"
FULL_SCOPE = "openid fhirUser offline_access patient/*.rs patient/Consent.cruds patient/Observation.c"


def activate(client, code, birth_date="1961-04-02", username="maria", password="a long passphrase"):
    return client.post("/accounts/v1/activate", json={"code": code, "birth_date": birth_date,
                                                      "username": username, "password": password})


def make_patient(engine, username="ana", patient="p-1", birth_date="1980-05-17") -> str:
    """A patient's account (password PASSWORD, English, a birth date); return its id."""
    account_id = str(uuid.uuid4())
    with transaction(engine) as conn:
        conn.execute(sa.insert(schema.accounts).values(
            id=account_id, username=username, password_hash=HASHER.hash(PASSWORD),
            patient=patient, language="en", failed_logins=0, locked_until=0,
            created_at=int(time.time()), kind="patient", birth_date=birth_date))
    return account_id


def sign_in(client, engine, username="ana", scope=FULL_SCOPE) -> dict:
    return patient_tokens(client, engine, scope=scope, username=username, password=PASSWORD)


def invite(client, token, **body):
    body = {"rights": ["view-records"], "relationship": "caregiver", **body}
    return client.post("/patient/v1/proxies", json=body, headers=bearer(token))


def join(client, code, birth_date="1980-05-17", username="carla"):
    return client.post("/accounts/v1/activate", json={
        "code": code, "birth_date": birth_date, "username": username, "password": PASSWORD})


def refresh(client, refresh_token):
    return client.post("/oauth/token", data={"grant_type": "refresh_token", "client_id": "phr-portal",
                                              "refresh_token": refresh_token})


def caregiver(client, engine, rights=("view-records",), **body) -> tuple[dict, dict]:
    """A patient ana invites carla with RIGHTS; carla joins and signs in. Return (grant, tokens)."""
    make_patient(engine)
    patient = sign_in(client, engine)
    created = invite(client, patient["access_token"], rights=list(rights), **body)
    assert created.status_code == 201, created.json
    assert join(client, created.json["invite_code"]).status_code == 201
    return created.json, sign_in(client, engine, username="carla")
