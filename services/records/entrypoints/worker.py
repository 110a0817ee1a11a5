"""Worker process of the records service: relays its outbox to Kafka."""
from __future__ import annotations

import sys

from services.common.config import load_settings
from services.common.worker import Worker
from services.records.adapters.tables import outbox
from services.records.bootstrap import bootstrap


def main() -> int:
    """Run the records worker until a signal."""
    records = bootstrap(load_settings("records"))
    return Worker(records.settings, records.engine, outbox).run()


if __name__ == "__main__":
    sys.exit(main())
