"""Worker process of the records service: relays its outbox, answers phr.records.fetch requests,
keeps the service's copy of the directory of departments from phr.directory.v1, and deletes the
prepared Bundles no one may download any more."""
from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime, timezone

import sqlalchemy as sa

from services.common import directory, kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.outbox import KafkaPublisher
from services.common.worker import ConsumerSpec, Worker, run_every
from services.records.adapters.tables import departments, outbox, processed_events
from services.records.bootstrap import Records, bootstrap
from services.records.service_layer import handlers
from services.records.service_layer.claim_checks import claim_check_grace, claim_check_ttl
from services.records.service_layer.unit_of_work import ConnectionUnitOfWork

FETCH_GROUP, DIRECTORY_GROUP = "phr-records-fetch", "phr-records-directory"
# Fetch requests are one hop of the exchange flow: answered as soon as they arrive while
# requests come; after kafka.IDLE_AFTER_SECONDS without any, the broker is asked 4 times a second.
FETCH_WAIT_MS, IDLE_FETCH_WAIT_MS = 20, 500
# Expired claim checks are refused (410) at once; deleting them can wait this long.
PRUNE_EVERY_SECONDS = 300.0

log = logging.getLogger(__name__)


def fetch_handlers(records: Records) -> dict:
    """The consumer's routing table: phr.records.fetch -> prepare the claim check and reply."""

    def on_fetch(conn: sa.Connection, event: dict) -> None:
        data = event["data"]
        cmd = handlers.FetchRecords(str(data["request_id"]), str(data["patient"]),
                                    [str(t) for t in data.get("resource_types") or []],
                                    [str(label) for label in data.get("redact_labels") or []],
                                    str(data["requester"]), ttl=claim_check_ttl(records.settings))
        handlers.fetch_records(cmd, ConnectionUnitOfWork(conn, records.events))

    return {"phr.records.fetch": on_fetch}


def fetch_consumer(records: Records, dead_letters) -> IdempotentConsumer:
    """The idempotent consumer of phr.records.fetch.v1 (replies go out through the outbox)."""
    return IdempotentConsumer("records.fetch", records.engine, processed_events,
                              fetch_handlers(records), dead_letters)


def directory_consumer(records: Records, dead_letters) -> IdempotentConsumer:
    """The idempotent consumer of phr.directory.v1: keeps each department's entry in the
    service's copy (the table the token check and the patients' pages read)."""
    return IdempotentConsumer("records.directory", records.engine, processed_events,
                              directory.directory_handlers(departments), dead_letters)


def consumer_specs(records: Records, dead_letters) -> list[ConsumerSpec]:
    """The worker's consumer groups: fetch requests are one hop of the exchange flow (answered
    as soon as they arrive); a directory change may wait for the default fetch wait."""
    return [
        ConsumerSpec(FETCH_GROUP, [handlers.FETCH_TOPIC], fetch_consumer(records, dead_letters),
                     fetch_wait_ms=FETCH_WAIT_MS, idle_fetch_wait_ms=IDLE_FETCH_WAIT_MS),
        ConsumerSpec(DIRECTORY_GROUP, [directory.TOPIC], directory_consumer(records, dead_letters)),
    ]


def prune_claim_checks(records: Records) -> int:
    """Delete the prepared Bundles past their expiry or their grace after download; return how many."""
    pruned = handlers.prune_claim_checks(records.uow(), datetime.now(timezone.utc),
                                         claim_check_grace(records.settings))
    if pruned:
        log.info("deleted %d prepared Bundles no one may download any more", pruned)
    return pruned


class RecordsWorker(Worker):
    """The records worker: relay, fetch consumer, and the claim-check pruning."""

    records: Records | None = None

    def extra_threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=run_every, name="claim-checks", daemon=True, args=(
            self.stop, PRUNE_EVERY_SECONDS, lambda: prune_claim_checks(self.records), "claim-check pruning"))]


def main() -> int:
    """Run the records worker until a signal."""
    records = bootstrap(load_settings("records"))
    # A factory: a producer that failed (a broker restarted, say) is replaced, not reused.
    dead_letters = KafkaPublisher(lambda: kafka.producer(records.settings.kafka_bootstrap, client_id="records-dlq"))
    worker = RecordsWorker(records.settings, records.engine, outbox, consumer_specs(records, dead_letters))
    worker.records = records
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
