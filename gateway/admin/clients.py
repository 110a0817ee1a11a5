"""Seed clients for the demo and operators: departments and the patient portal.

In process: ``ensure_department(engine, "cardiology", scopes_for("cardiology"))``.
From a shell: ``python -m gateway.admin --help``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys

from joserfc.jwk import KeySet
from sqlalchemy.engine import Engine

from gateway.authz.departments import PORTAL_CLIENT_ID, PORTAL_SCOPES, scopes_for
from gateway.authz.stores import ClientStore


def ensure_department(engine: Engine, name: str, scopes: str) -> dict:
    """Register department NAME (client_id = NAME); return its secret only when just created."""
    secret = secrets.token_urlsafe(32)
    created = ClientStore(engine).add_department(name, scopes, secret)
    return {"client_id": name, "client_secret": secret if created else None}


def register_department_jwks(engine: Engine, name: str, jwks: dict) -> None:
    """Let department NAME authenticate with private_key_jwt; only the public parts are kept."""
    keys = KeySet.import_key_set(jwks)  # raises ValueError/JoseError on a malformed set
    if not ClientStore(engine).set_department_jwks(name, keys.as_dict(private=False)):
        raise LookupError(f"No department client {name!r}; call ensure_department first.")


def ensure_portal_client(engine: Engine, redirect_uris: list[str]) -> dict:
    """Register (or update the redirect URIs of) the public patient-portal client."""
    if not redirect_uris:
        raise ValueError("The portal needs at least one redirect URI.")
    ClientStore(engine).save_portal(PORTAL_CLIENT_ID, PORTAL_SCOPES, redirect_uris)
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
    ClientStore(engine).save_service(name, scopes, secret)
    return {"client_id": name, "client_secret": secret}
