"""Worker process of the consent service: relays its outbox to Kafka."""
from __future__ import annotations

import sys

from services.common.config import load_settings
from services.common.worker import Worker
from services.consent.adapters.tables import outbox
from services.consent.bootstrap import bootstrap


def main() -> int:
    """Run the consent worker until a signal."""
    consent = bootstrap(load_settings("consent"))
    return Worker(consent.settings, consent.engine, outbox).run()


if __name__ == "__main__":
    sys.exit(main())
