"""Worker process of the gateway: relays the account facts in its outbox (gateway/accounts/events.py)
and deletes expired token rows and revocations (gateway/admin/housekeeping.py).

``python -m gateway.worker``; the gateway consumes no topic, so there is no consumer.
"""
from __future__ import annotations

import sys
import threading

from contracts.events import EventChecker
from gateway.accounts.stores import GrantStore
from gateway.admin import housekeeping
from gateway.schema import outbox
from services.common.config import load_settings
from services.common.db import make_engine
from services.common.worker import Worker, run_every


#: How often grants whose end passed are told of (phr.accounts.proxy-ended, reason "expired").
GRANT_ENDS_EVERY_SECONDS = 60.0


class GatewayWorker(Worker):
    """The relay, plus the pruning of expired tokens and revocations, and telling of caregivers'
    grants that reached their end."""

    def extra_threads(self) -> list[threading.Thread]:
        grants = GrantStore(self.engine, lambda _conn, _grant: None, EventChecker(self.settings.contract_checks))
        return [threading.Thread(target=run_every, name="token-pruning", daemon=True, args=(
            self.stop, housekeeping.PRUNE_EVERY_SECONDS, lambda: housekeeping.prune(self.engine),
            "token pruning")),
                threading.Thread(target=run_every, name="grant-ends", daemon=True, args=(
                    self.stop, GRANT_ENDS_EVERY_SECONDS, grants.announce_expired, "grant ends"))]


def main() -> int:
    """Relay the gateway's outbox and prune expired tokens until a signal."""
    settings = load_settings("gateway")
    return GatewayWorker(settings, make_engine(settings.database_url), outbox).run()


if __name__ == "__main__":
    sys.exit(main())
