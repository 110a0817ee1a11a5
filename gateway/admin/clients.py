"""Seed clients for the demo and operators: departments (with their directory entries), the
administrators' client, the patient portal and the staff console; and the operators' view of
patients' own apps (list them, block one).

In process: ``register_department(engine, {"department": "cardiology", "names": {...},
"kind": "clinical"})``. From a shell: ``python -m gateway.admin --help``. Once the gateway runs,
departments are better registered through its admin API (``phr departments add``).
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys

from joserfc.jwk import KeySet
from marshmallow import ValidationError
from sqlalchemy.engine import Engine

from contracts.events import EventChecker
from contracts.schemas.directory import DepartmentRegistrationSchema
from gateway.authz.departments import (ADMIN_CLIENT_ID, ADMIN_SCOPE, CONSOLE_CLIENT_ID,
                                       CONSOLE_SCOPES, PORTAL_CLIENT_ID, PORTAL_SCOPES)
from gateway.authz.app_store import AppStore
from gateway.authz.stores import ClientStore
from gateway.directory.store import DepartmentExists, DirectoryStore


def new_secret() -> str:
    """A client secret: 256 random bits, URL-safe (only its hash is stored)."""
    return secrets.token_urlsafe(32)


def register_department(engine: Engine, entry: dict, checker: EventChecker | None = None) -> dict:
    """Register a department from ENTRY (the admin API's body: department, names, kind and
    rights) with its OAuth client, and queue its event; return its client's id, secret
    (shown this once) and scopes, and the entry. Raise ValueError when ENTRY breaks the
    contract or its id is taken."""
    try:
        body = DepartmentRegistrationSchema().load(entry)
    except ValidationError as exc:
        raise ValueError(f"not a department entry: {exc.normalized_messages()}") from None
    secret = new_secret()
    try:
        data, scope = DirectoryStore(engine, checker or EventChecker("enforce")).register(
            body["department"], body["names"], body["kind"], body["may_claim_emergencies"],
            body["may_write_records"], secret)
    except DepartmentExists:
        raise ValueError(f"the id {body['department']!r} is taken") from None
    return {"client_id": data["department"], "client_secret": secret, "scope": scope, "entry": data}


def ensure_admin_client(engine: Engine) -> dict:
    """Create the administrators' client (phr-admin, scope ADMIN_SCOPE), or give it a new
    secret; return its id and secret (only the hash is stored, so it is shown this once)."""
    secret = new_secret()
    ClientStore(engine).save_admin(ADMIN_CLIENT_ID, ADMIN_SCOPE, secret)
    return {"client_id": ADMIN_CLIENT_ID, "client_secret": secret}


def register_department_jwks(engine: Engine, name: str, jwks: dict) -> None:
    """Let department NAME authenticate with private_key_jwt; only the public parts are kept."""
    keys = KeySet.import_key_set(jwks)  # raises ValueError/JoseError on a malformed set
    if not ClientStore(engine).set_department_jwks(name, keys.as_dict(private=False)):
        raise LookupError(f"No department client {name!r}; register the department first.")


def ensure_portal_client(engine: Engine, redirect_uris: list[str]) -> dict:
    """Register (or update the redirect URIs of) the public patient-portal client."""
    if not redirect_uris:
        raise ValueError("The portal needs at least one redirect URI.")
    ClientStore(engine).save_portal(PORTAL_CLIENT_ID, PORTAL_SCOPES, redirect_uris)
    return {"client_id": PORTAL_CLIENT_ID, "redirect_uri": redirect_uris[0]}


def ensure_console_client(engine: Engine, redirect_uris: list[str]) -> dict:
    """Register (or update the redirect URIs of) the public staff-console client, phr-console
    (its redirect URI is the gateway's own /console/callback)."""
    if not redirect_uris:
        raise ValueError("The console needs at least one redirect URI.")
    ClientStore(engine).save_console(CONSOLE_CLIENT_ID, CONSOLE_SCOPES, redirect_uris)
    return {"client_id": CONSOLE_CLIENT_ID, "redirect_uri": redirect_uris[0]}


def announce_staff(engine: Engine, checker: EventChecker | None = None) -> int:
    """Queue every active member of staff's roles again (StaffStore.announce_roles); how many."""
    return _announcing(engine, checker).announce_roles()


def announce_staff_once(engine: Engine, checker: EventChecker | None = None) -> int | None:
    """announce_staff the first time it is asked in this database (StaffStore.announce_roles_once);
    None when it was done before."""
    return _announcing(engine, checker).announce_roles_once()


def _announcing(engine: Engine, checker: EventChecker | None):
    from gateway.accounts.staff_store import StaffStore

    def no_revoking(_conn, _account_id):  # announcing changes no role, so no token ends
        raise AssertionError("announcing roles revokes nothing")
    return StaffStore(engine, no_revoking, checker)


def main(argv: list[str] | None = None) -> int:
    """Command line for the functions above, against the gateway's configured database."""
    parser = argparse.ArgumentParser(prog="python -m gateway.admin",
                                     description="Register gateway clients (runs migrations first).")
    sub = parser.add_subparsers(dest="command", required=True)
    dept = sub.add_parser("department", help="register a department and its client; prints its secret once "
                                             "(the admin API, `phr departments add`, does the same)")
    dept.add_argument("name", help="its id, e.g. physiotherapy")
    dept.add_argument("--kind", choices=("clinical", "research", "oversight"), default="clinical")
    dept.add_argument("--name", dest="names", action="append", default=[], metavar="LANG=TEXT",
                      help="its name in a language (en and es; default: the id)")
    dept.add_argument("--emergencies", action="store_true", help="may break the glass (clinical)")
    dept.add_argument("--writes", action="store_true", help="may add and change records (clinical)")
    dept.add_argument("--scopes", help=argparse.SUPPRESS)  # before the directory; refused below
    keys = sub.add_parser("department-jwks", help="register a department's public JWK Set")
    keys.add_argument("name")
    keys.add_argument("jwks_file", type=argparse.FileType("r"))
    portal = sub.add_parser("portal", help="create or update the patient portal client")
    portal.add_argument("redirect_uris", nargs="+")
    console = sub.add_parser("console", help="create or update the staff console client "
                                             f"{CONSOLE_CLIENT_ID} (redirect URI: <gateway>/console/callback)")
    console.add_argument("redirect_uris", nargs="+")
    svc = sub.add_parser("service", help="create a service client (or give it a new secret); prints the secret")
    svc.add_argument("name", help="e.g. exchange-service")
    svc.add_argument("--scopes", default="system/Consent.r")
    sub.add_parser("admin-client", help=f"create the administrators' client {ADMIN_CLIENT_ID} "
                                        "(or give it a new secret); prints the secret once")
    sub.add_parser("announce-staff", help="send every active member of staff's activation again, "
                                          "with their roles now (a consumer that started later learns them)")
    sub.add_parser("apps", help="list the patients' apps registered here (RFC 7591), newest first")
    block = sub.add_parser("app-block", help="refuse a patient's app from now on: its tokens are "
                                             "revoked at once and every approval of it is forgotten")
    block.add_argument("client_id")
    args = parser.parse_args(argv)

    from gateway import MIGRATIONS_DIR
    from services.common.config import load_settings
    from services.common.db import make_engine, migrate

    if args.command == "department" and args.scopes:
        print("error: a department's scopes come from its kind and rights now; "
              "use --kind, --writes and --emergencies", file=sys.stderr)
        return 2
    settings = load_settings("gateway")
    migrate(settings.database_url, MIGRATIONS_DIR)
    engine = make_engine(settings.database_url)
    try:
        if args.command == "department":
            result = register_department(engine, department_entry(args),
                                         EventChecker(settings.contract_checks))
        elif args.command == "admin-client":
            result = ensure_admin_client(engine)
        elif args.command == "department-jwks":
            register_department_jwks(engine, args.name, json.load(args.jwks_file))
            result = {"client_id": args.name, "jwks": "registered"}
        elif args.command == "service":
            result = ensure_service_client(engine, args.name, args.scopes)
        elif args.command == "announce-staff":
            result = {"announced": announce_staff(engine, EventChecker(settings.contract_checks))}
        elif args.command == "console":
            result = ensure_console_client(engine, args.redirect_uris)
        elif args.command == "apps":
            result = AppStore(engine).registered()
        elif args.command == "app-block":
            if not AppStore(engine).block(args.client_id):
                raise LookupError(f"No app {args.client_id!r} is registered here.")
            result = {"client_id": args.client_id, "blocked": True}
        else:
            result = ensure_portal_client(engine, args.redirect_uris)
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps(result))
    return 0


def department_entry(args: argparse.Namespace) -> dict:
    """The entry the ``department`` command registers: names LANG=TEXT, else the id in every
    language."""
    names = {"en": args.name, "es": args.name}
    for pair in args.names:
        lang, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"--name {pair!r}: write it as LANG=TEXT, e.g. en=Physiotherapy")
        names[lang.strip()] = text.strip()
    return {"department": args.name, "names": names, "kind": args.kind,
            "may_claim_emergencies": args.emergencies, "may_write_records": args.writes}


def ensure_service_client(engine: Engine, name: str, scopes: str) -> dict:
    """Register service client NAME (client credentials, no dept claim) with a fresh secret.

    The secret changes on every call (only its hash is stored), so each start of the stack
    hands its processes a secret nobody else has seen.
    """
    secret = new_secret()
    ClientStore(engine).save_service(name, scopes, secret)
    return {"client_id": name, "client_secret": secret}
