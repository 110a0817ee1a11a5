"""Bring service databases to their newest schema: ``python -m launcher.migrate all``.

``all`` also makes the services' own OAuth clients and writes their secrets to files
(launcher/service_clients.py): docker-compose.yml's migrate step, like `make up`, leaves the
exchange worker a client secret to read.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import gateway
from services import consent, exchange, records
from services.common.config import SERVICES, load_settings
from services.common.db import migrate

PACKAGES = {"gateway": gateway, "consent": consent, "records": records, "exchange": exchange}


def migrate_service(name: str) -> None:
    """Run the Alembic migrations of service NAME against its configured database."""
    migrate(load_settings(name).database_url, PACKAGES[name].MIGRATIONS_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", choices=[*SERVICES, "all"])
    args = parser.parse_args(argv)
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    for name in (SERVICES if args.service == "all" else [args.service]):
        migrate_service(name)
        print(f"migrate: {name} is at the newest schema", flush=True)
    if args.service == "all":
        from launcher import service_clients

        for name, value in service_clients.ensure(os.environ).items():
            print(f"migrate: {name}={value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
