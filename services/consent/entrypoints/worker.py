"""Worker process of the consent service: relays its outbox, keeps its copy of the directory of
departments from phr.directory.v1, and sweeps expired consents."""
from __future__ import annotations

import logging
import sys
import threading

from services.common import kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.directory import TOPIC as DIRECTORY_TOPIC
from services.common.directory import directory_handlers
from services.common.outbox import KafkaPublisher, Publisher
from services.common.worker import ConsumerSpec, Worker
from services.consent.adapters.repository import SqlSharingRequestRepository
from services.consent.adapters.tables import departments, outbox, processed_events
from services.consent.bootstrap import ConsentService, bootstrap
from services.consent.service_layer import handlers, sharing

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0
DIRECTORY_GROUP = "phr-consent-directory"


def directory_consumer(consent: ConsentService, dead_letters: Publisher) -> IdempotentConsumer:
    """The consumer that keeps the service's table of departments (services/common/directory.py):
    each entry once, an older version than the one kept changing nothing. A department that may no
    longer hold a consent has its waiting sharing requests expired in the same transaction."""
    then = lambda conn, entry: sharing.department_changed(SqlSharingRequestRepository(conn), entry)  # noqa: E731
    return IdempotentConsumer("consent.directory", consent.engine, processed_events,
                              directory_handlers(departments, then=then), dead_letters)


def consumer_specs(consent: ConsentService, dead_letters: Publisher) -> list[ConsumerSpec]:
    """The worker's consumer groups: the directory only (consent reacts to no other service's events)."""
    return [ConsumerSpec(DIRECTORY_GROUP, [DIRECTORY_TOPIC], directory_consumer(consent, dead_letters))]


def sweep_forever(consent: ConsentService, stop: threading.Event, every: float = SWEEP_SECONDS) -> None:
    """Expire consents past their end every EVERY seconds until STOP (decisions never wait for it)."""
    while not stop.is_set():
        try:
            expired = handlers.expire_due(consent.uow(), consent.clock())
            if expired:
                log.info("expired %d consent(s)", expired)
        except Exception as exc:  # database away: try again at the next tick
            log.warning("expiry sweep failed: %s", exc)
        stop.wait(every)


class ConsentWorker(Worker):
    """The common worker plus the expiry sweep."""

    consent: ConsentService | None = None

    def extra_threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=sweep_forever, args=(self.consent, self.stop), name="expiry-sweep",
                                 daemon=True)]


def main() -> int:
    """Run the consent worker until a signal."""
    consent = bootstrap(load_settings("consent"))
    bootstrap_servers = consent.settings.kafka_bootstrap
    # A factory: the producer is made when a first event is dead-lettered, not at start.
    dead_letters = KafkaPublisher(lambda: kafka.producer(bootstrap_servers, client_id="consent-dlq"))
    worker = ConsentWorker(consent.settings, consent.engine, outbox, consumer_specs(consent, dead_letters))
    worker.consent = consent
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
