"""The services' own OAuth clients (client credentials), made by `make up` and by the migrate
step of docker-compose.yml alike: ``python -m launcher.migrate all`` ends with them.

Today one service has one: the exchange worker asks consent for decisions without a caller's
token, as ``exchange-service`` with scope ``system/Consent.r``. Its secret is written to the file
``EXCHANGE_CLIENT_SECRET_FILE`` names (default ``$PHR_VAR_DIR/exchange-client-secret``, 0600),
which the worker reads (services/common/config.py, client_secret); under compose that file is on
a volume the migrate step and the worker share. The gateway keeps only the secret's hash.

Idempotent: a client whose file holds a secret the gateway accepts, with the scopes wanted, is
left as it is, so running it again (a restart, a second host migrating) does not take the secret
from processes already running with it. Otherwise a new secret is made and the file replaced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from services.common.config import load_settings

#: service -> (client id, scopes)
SERVICE_CLIENTS = {"exchange": ("exchange-service", "system/Consent.r")}


def secret_file(env: Mapping[str, str], service: str) -> Path:
    """Where SERVICE's client secret is kept: ``<SERVICE>_CLIENT_SECRET_FILE``, else under var/."""
    explicit = env.get(f"{service.upper()}_CLIENT_SECRET_FILE")
    return Path(explicit) if explicit else Path(env.get("PHR_VAR_DIR", "var")) / f"{service}-client-secret"


def ensure(env: Mapping[str, str]) -> dict[str, str]:
    """Make sure every service client exists with the secret in its file; return the variables
    that hand them to the processes (``<SERVICE>_CLIENT_ID``, ``<SERVICE>_CLIENT_SECRET_FILE``)."""
    from gateway.authz.stores import ClientStore
    from services.common.db import make_engine, take_migration_lock

    engine = make_engine(load_settings("gateway", env).database_url)
    try:
        with engine.begin() as lock:  # set-ups started on several hosts at once run in turn
            take_migration_lock(lock)
            clients = ClientStore(engine)
            handed = {}
            for service, (client_id, scopes) in SERVICE_CLIENTS.items():
                path = _ensure_one(clients, client_id, scopes, secret_file(env, service))
                handed[f"{service.upper()}_CLIENT_ID"] = client_id
                handed[f"{service.upper()}_CLIENT_SECRET_FILE"] = str(path.resolve())
            return handed
    finally:
        engine.dispose()


def _ensure_one(clients, client_id: str, scopes: str, path: Path) -> Path:
    """Keep the secret in PATH if the gateway accepts it for CLIENT_ID with SCOPES; else make a
    new one, register it and write it to PATH (0600)."""
    from gateway.admin.clients import new_secret
    from services.common.files import private_file, replace_private

    current = path.read_text().strip() if path.exists() else ""
    known = clients.client(client_id)
    if not (current and known and known.scope == scopes and known.check_client_secret(current)):
        secret = new_secret()
        clients.save_service(client_id, scopes, secret)
        replace_private(path, secret + "\n")
    return private_file(path)  # and narrows a file someone widened
