"""Seed clients for the demo and operators: departments and the patient portal.

In process: ``ensure_department(engine, "cardiology", scopes_for("cardiology"))``.
From a shell: ``python -m gateway.admin --help``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time

import sqlalchemy as sa
from joserfc.jwk import KeySet
from sqlalchemy.engine import Engine

from gateway import schema as t
from gateway.authz.departments import PORTAL_CLIENT_ID, PORTAL_SCOPES, scopes_for
from gateway.storage import digest
from services.common.db import transaction


def ensure_department(engine: Engine, name: str, scopes: str) -> dict:
    """Register department NAME (client_id = NAME); return its secret only when just created."""
    with transaction(engine) as conn:
        if conn.execute(sa.select(t.clients.c.client_id)
                        .where(t.clients.c.client_id == name)).first():
            return {"client_id": name, "client_secret": None}
        secret = secrets.token_urlsafe(32)
        conn.execute(sa.insert(t.clients).values(
            client_id=name, kind="department", name=name, secret_hash=digest(secret), jwks=None,
            scope=scopes, redirect_uris="[]", created_at=int(time.time())))
    return {"client_id": name, "client_secret": secret}


def register_department_jwks(engine: Engine, name: str, jwks: dict) -> None:
    """Let department NAME authenticate with private_key_jwt; only the public parts are kept."""
    keys = KeySet.import_key_set(jwks)  # raises ValueError/JoseError on a malformed set
    with transaction(engine) as conn:
        updated = conn.execute(sa.update(t.clients).where(
            t.clients.c.client_id == name, t.clients.c.kind == "department"
        ).values(jwks=json.dumps(keys.as_dict(private=False)))).rowcount
    if updated != 1:
        raise LookupError(f"No department client {name!r}; call ensure_department first.")


def ensure_portal_client(engine: Engine, redirect_uris: list[str]) -> dict:
    """Register (or update the redirect URIs of) the public patient-portal client."""
    if not redirect_uris:
        raise ValueError("The portal needs at least one redirect URI.")
    values = dict(kind="portal", name="Patient portal", secret_hash=None, jwks=None,
                  scope=PORTAL_SCOPES, redirect_uris=json.dumps(list(redirect_uris)))
    with transaction(engine) as conn:
        exists = conn.execute(sa.select(t.clients.c.client_id)
                              .where(t.clients.c.client_id == PORTAL_CLIENT_ID)).first()
        if exists:
            conn.execute(sa.update(t.clients).where(t.clients.c.client_id == PORTAL_CLIENT_ID)
                         .values(**values))
        else:
            conn.execute(sa.insert(t.clients).values(client_id=PORTAL_CLIENT_ID,
                                                     created_at=int(time.time()), **values))
    return {"client_id": PORTAL_CLIENT_ID, "redirect_uri": redirect_uris[0]}


def main(argv: list[str] | None = None) -> int:
    """Command line for the functions above, against the gateway's configured database."""
    parser = argparse.ArgumentParser(prog="python -m gateway.admin",
                                     description="Register gateway clients (runs migrations first).")
    sub = parser.add_subparsers(dest="command", required=True)
    dept = sub.add_parser("department", help="create a department client; prints its secret once")
    dept.add_argument("name")
    dept.add_argument("--scopes", help="default: the table in gateway/authz/departments.py")
    keys = sub.add_parser("department-jwks", help="register a department's public JWK Set")
    keys.add_argument("name")
    keys.add_argument("jwks_file", type=argparse.FileType("r"))
    portal = sub.add_parser("portal", help="create or update the patient portal client")
    portal.add_argument("redirect_uris", nargs="+")
    svc = sub.add_parser("service", help="create a service client (or give it a new secret); prints the secret")
    svc.add_argument("name", help="e.g. exchange-service")
    svc.add_argument("--scopes", default="system/Consent.r")
    args = parser.parse_args(argv)

    from gateway import MIGRATIONS_DIR
    from services.common.config import load_settings
    from services.common.db import make_engine, migrate

    settings = load_settings("gateway")
    migrate(settings.database_url, MIGRATIONS_DIR)
    engine = make_engine(settings.database_url)
    try:
        if args.command == "department":
            result = ensure_department(engine, args.name, args.scopes or scopes_for(args.name))
        elif args.command == "department-jwks":
            register_department_jwks(engine, args.name, json.load(args.jwks_file))
            result = {"client_id": args.name, "jwks": "registered"}
        elif args.command == "service":
            result = ensure_service_client(engine, args.name, args.scopes)
        else:
            result = ensure_portal_client(engine, args.redirect_uris)
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps(result))
    return 0


def ensure_service_client(engine: Engine, name: str, scopes: str) -> dict:
    """Register service client NAME (client credentials, no dept claim) with a fresh secret.

    The secret changes on every call (only its hash is stored), so each start of the stack
    hands its processes a secret nobody else has seen.
    """
    secret = secrets.token_urlsafe(32)
    with transaction(engine) as conn:
        exists = conn.execute(sa.select(t.clients.c.client_id).where(t.clients.c.client_id == name)).first()
        if exists:
            conn.execute(sa.update(t.clients).where(t.clients.c.client_id == name)
                         .values(secret_hash=digest(secret), scope=scopes))
        else:
            conn.execute(sa.insert(t.clients).values(
                client_id=name, kind="service", name=name, secret_hash=digest(secret), jwks=None,
                scope=scopes, redirect_uris="[]", created_at=int(time.time())))
    return {"client_id": name, "client_secret": secret}

