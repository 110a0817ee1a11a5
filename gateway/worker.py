"""Worker process of the gateway: relays the account facts in its outbox (gateway/events.py).

``python -m gateway.worker``; the gateway consumes no topic, so this is the relay alone.
"""
from __future__ import annotations

import sys

from gateway.schema import outbox
from services.common.config import load_settings
from services.common.db import make_engine
from services.common.worker import Worker


def main() -> int:
    """Relay the gateway's outbox until a signal."""
    settings = load_settings("gateway")
    return Worker(settings, make_engine(settings.database_url), outbox).run()


if __name__ == "__main__":
    sys.exit(main())
