"""``python -m services.records.entrypoints.announce corrections`` (``make announce-corrections``):
queue phr.records.amendment-requested again for every correction request records holds, so that
an exchange that did not hear of older ones (services/records/service_layer/announce.py says
when) learns them; records' worker relays them from the outbox. Safe to run more than once.
The database is RECORDS_DATABASE_URL, as for the service."""
from __future__ import annotations

import argparse
import sys

from services.common.config import load_settings
from services.records.bootstrap import bootstrap
from services.records.service_layer.announce import announce_corrections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.records.entrypoints.announce", description=__doc__)
    parser.add_argument("what", choices=["corrections"])
    parser.parse_args(argv)
    records = bootstrap(load_settings("records"))
    try:
        count = announce_corrections(records.uow())
    finally:
        records.engine.dispose()
    print(f"queued {count} correction requests on phr.records.v1; the records worker sends them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
