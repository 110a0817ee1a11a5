"""Worker process of the gateway: relays the account facts in its outbox (gateway/accounts/events.py)
and deletes expired token rows and revocations (gateway/admin/housekeeping.py).

``python -m gateway.worker``; the gateway consumes no topic, so there is no consumer.
"""
from __future__ import annotations

import sys
import threading

from gateway.admin import housekeeping
from gateway.schema import outbox
from services.common.config import load_settings
from services.common.db import make_engine
from services.common.worker import Worker, run_every


class GatewayWorker(Worker):
    """The relay, plus the pruning of expired tokens and revocations."""

    def extra_threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=run_every, name="token-pruning", daemon=True, args=(
            self.stop, housekeeping.PRUNE_EVERY_SECONDS, lambda: housekeeping.prune(self.engine),
            "token pruning"))]


def main() -> int:
    """Relay the gateway's outbox and prune expired tokens until a signal."""
    settings = load_settings("gateway")
    return GatewayWorker(settings, make_engine(settings.database_url), outbox).run()


if __name__ == "__main__":
    sys.exit(main())
