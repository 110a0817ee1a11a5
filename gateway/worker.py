"""Worker process of the gateway: relays the account facts in its outbox (gateway/accounts/events.py)
and deletes expired token rows and revocations (gateway/admin/housekeeping.py).

``python -m gateway.worker``; the gateway consumes no topic, so there is no consumer.
"""
from __future__ import annotations

import logging
import sys
import threading

from contracts.events import EventChecker
from gateway.accounts.stores import GrantStore
from gateway.admin import clients, housekeeping
from gateway.schema import outbox
from services.common.config import load_settings
from services.common.db import make_engine
from services.common.worker import Worker, run_every

log = logging.getLogger(__name__)

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


def announce_once(engine, checker: EventChecker) -> None:
    """At the first start after gateway migration 0021, tell the other services every active
    member of staff's roles: an exchange that began to count staff after they joined learns
    them without an operator's step (``make announce-staff`` sends them again on demand)."""
    announced = clients.announce_staff_once(engine, checker)
    if announced is not None:
        log.info("announced the roles of %d active members of staff", announced)


def main() -> int:
    """Relay the gateway's outbox and prune expired tokens until a signal."""
    settings = load_settings("gateway")
    engine = make_engine(settings.database_url)
    announce_once(engine, EventChecker(settings.contract_checks))
    return GatewayWorker(settings, engine, outbox).run()


if __name__ == "__main__":
    sys.exit(main())
