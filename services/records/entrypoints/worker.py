"""Worker process of the records service: relays its outbox and answers phr.records.fetch requests."""
from __future__ import annotations

import sys

import sqlalchemy as sa

from services.common import kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.outbox import KafkaPublisher
from services.common.worker import ConsumerSpec, Worker
from services.records.adapters.tables import outbox, processed_events
from services.records.bootstrap import Records, bootstrap
from services.records.service_layer import handlers
from services.records.service_layer.unit_of_work import ConnectionUnitOfWork

FETCH_GROUP = "phr-records-fetch"
# Fetch requests are one hop of the exchange flow: answered as soon as they arrive while
# requests come; after kafka.IDLE_AFTER_SECONDS without any, the broker is asked 4 times a second.
FETCH_WAIT_MS, IDLE_FETCH_WAIT_MS = 20, 250


def fetch_handlers(records: Records) -> dict:
    """The consumer's routing table: phr.records.fetch -> prepare the claim check and reply."""

    def on_fetch(conn: sa.Connection, event: dict) -> None:
        data = event["data"]
        cmd = handlers.FetchRecords(str(data["request_id"]), str(data["patient"]),
                                    [str(t) for t in data.get("resource_types") or []],
                                    [str(label) for label in data.get("redact_labels") or []],
                                    str(data["requester"]))
        handlers.fetch_records(cmd, ConnectionUnitOfWork(conn, records.events))

    return {"phr.records.fetch": on_fetch}


def fetch_consumer(records: Records, dead_letters) -> IdempotentConsumer:
    """The idempotent consumer of phr.records.fetch.v1 (replies go out through the outbox)."""
    return IdempotentConsumer("records.fetch", records.engine, processed_events,
                              fetch_handlers(records), dead_letters)


def main() -> int:
    """Run the records worker until a signal."""
    records = bootstrap(load_settings("records"))
    dead_letters = KafkaPublisher(kafka.producer(records.settings.kafka_bootstrap, client_id="records-dlq"))
    spec = ConsumerSpec(FETCH_GROUP, [handlers.FETCH_TOPIC], fetch_consumer(records, dead_letters),
                        fetch_wait_ms=FETCH_WAIT_MS, idle_fetch_wait_ms=IDLE_FETCH_WAIT_MS)
    return Worker(records.settings, records.engine, outbox, [spec]).run()


if __name__ == "__main__":
    sys.exit(main())
