"""Bring service databases to their newest schema: ``python -m launcher.migrate all``."""
from __future__ import annotations

import argparse
import logging
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
