"""Bring service databases to their newest schema: ``python -m services.common.migrate all``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from services.common.config import SERVICES, load_settings
from services.common.db import migrate

PACKAGES = {"gateway": "gateway", "consent": "services.consent",
            "records": "services.records", "exchange": "services.exchange"}


def migrate_service(name: str) -> None:
    """Run the Alembic migrations of service NAME against its configured database."""
    package = importlib.import_module(PACKAGES[name])
    migrate(load_settings(name).database_url, package.MIGRATIONS_DIR)


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
