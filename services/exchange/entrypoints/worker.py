"""Worker process of the exchange service: the request flow, notifications, the records index,
the equity report's projection, the copy of the directory, the sweeper that drives due requests
again, and the outbox relay."""
from __future__ import annotations

import logging
import sys
import threading
import time

from services.common import directory, kafka, tracing
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.outbox import KafkaPublisher
from services.common.db import ChangeProbe
from services.common.worker import IDLE_FLOOR_SECONDS, ConsumerSpec, Worker, run_on_change
from services.exchange.adapters.tables import departments, outbox, processed_events
from services.exchange.bootstrap import Exchange, bootstrap
from services.exchange.service_layer.delivery import DELIVERY_HANDLERS
from services.exchange.service_layer.equity import EQUITY_HANDLERS, EQUITY_TOPICS
from services.exchange.service_layer.flow import connections
from services.exchange.service_layer.handlers import HANDLERS
from services.exchange.service_layer.notify import NOTIFY_HANDLERS
from services.exchange.adapters.hooks import RestHook
from services.exchange.adapters.webhooks import HttpSender
from services.exchange.service_layer import receipts
from services.exchange.service_layer.reports import STAFF_HANDLERS

log = logging.getLogger(__name__)
FLOW_GROUP, NOTIFY_GROUP, RECORDS_GROUP = "phr-exchange-flow", "phr-exchange-notify", "phr-exchange-records"
EQUITY_GROUP, DIRECTORY_GROUP = "phr-exchange-equity", "phr-exchange-directory"
STAFF_GROUP, DELIVERY_GROUP = "phr-exchange-staff", "phr-exchange-delivery"
FLOW_TOPICS = ["phr.exchange.v1", "phr.records.fetch.v1"]
FETCH_WAIT_MS, IDLE_FETCH_WAIT_MS = 10, 500


def flow_handlers(exchange: Exchange) -> dict:
    """The flow consumer's routing table (our own requests, and records' replies)."""
    return {"phr.exchange.requested": exchange.flow.on_requested,
            "phr.records.fetched": exchange.flow.on_fetched}


def records_handlers(exchange: Exchange) -> dict:
    """The records consumer's routing table: the patient index, and in the same transaction the
    deliveries each subscription is owed for an import."""
    def imported(work, event: dict) -> None:
        HANDLERS["phr.records.imported"](work, event)
        exchange.subscriptions.on_imported(work, event)

    return {**HANDLERS, "phr.records.imported": imported}


def directory_handlers(exchange: Exchange) -> dict:
    """The directory consumer's routing table: keep each department's entry, and in the same
    transaction deny the pending requests of a department that was disabled and keep its webhook
    URL (revocation receipts)."""
    def changed(conn, department) -> None:
        exchange.flow.on_department_changed(conn, department)
        receipts.on_department_changed(conn, department)
    return directory.directory_handlers(departments, then=changed)


def consumer_specs(exchange: Exchange, dead_letters) -> list[ConsumerSpec]:
    """The worker's consumer groups. The client's default fetch wait (500 ms) would be paid on
    every hop of the flow (the embedded broker holds an empty fetch that long): the flow asks
    for data every FETCH_WAIT_MS while requests come, every IDLE_FETCH_WAIT_MS once idle;
    notifications, the patient index, the equity projection, the directory and the staff counts
    (reports) can wait a little."""
    engine = exchange.engine
    return [
        ConsumerSpec(FLOW_GROUP, FLOW_TOPICS, IdempotentConsumer(
            "exchange.flow", engine, processed_events, flow_handlers(exchange), dead_letters),
            fetch_wait_ms=FETCH_WAIT_MS, idle_fetch_wait_ms=IDLE_FETCH_WAIT_MS),
        ConsumerSpec(NOTIFY_GROUP, ["phr.consent.v1"], IdempotentConsumer(
            "exchange.notify", engine, processed_events,
            receipts.notify_handlers(exchange.receipts, NOTIFY_HANDLERS), dead_letters)),
        ConsumerSpec(RECORDS_GROUP, ["phr.records.v1"], IdempotentConsumer(
            "exchange.records-index", engine, processed_events, records_handlers(exchange), dead_letters)),
        ConsumerSpec(EQUITY_GROUP, EQUITY_TOPICS, IdempotentConsumer(
            "exchange.equity", engine, processed_events, EQUITY_HANDLERS, dead_letters)),
        ConsumerSpec(DIRECTORY_GROUP, [directory.TOPIC], IdempotentConsumer(
            "exchange.directory", engine, processed_events, directory_handlers(exchange), dead_letters)),
        ConsumerSpec(STAFF_GROUP, ["phr.accounts.v1"], IdempotentConsumer(
            "exchange.staff", engine, processed_events, STAFF_HANDLERS, dead_letters)),
        ConsumerSpec(DELIVERY_GROUP, ["phr.notify.v1", "phr.accounts.v1"], IdempotentConsumer(
            "exchange.delivery", engine, processed_events, DELIVERY_HANDLERS, dead_letters)),
    ]


def _probe(exchange: Exchange) -> ChangeProbe:
    return ChangeProbe(exchange.engine, IDLE_FLOOR_SECONDS)


def sweep_forever(exchange: Exchange, stop: threading.Event, every: float = 0.5) -> None:
    """Drive due pending requests again until STOP (consent away, a message lost)."""
    connect = connections(exchange.engine)
    def retried(traceparent: str | None):
        return tracing.resumed(traceparent, "exchange retry")

    run_on_change(stop, every, lambda: exchange.flow.sweep(connect, resume=retried), "sweeper", _probe(exchange))


def deliver_webhooks_forever(exchange: Exchange, stop: threading.Event, every: float = 0.5) -> None:
    """Try due webhook deliveries (revocation receipts) until STOP."""
    connect, sender = connections(exchange.engine), HttpSender(RestHook(exchange.subscriptions.policy))
    run_on_change(stop, every, lambda: exchange.receipts.deliver_due(connect, sender), "webhook deliveries",
                  _probe(exchange))


def deliver_subscriptions_forever(exchange: Exchange, stop: threading.Event, every: float = 0.1,
                                  prune_every: float = 3600.0) -> None:
    """Send due subscription notifications until STOP (service_layer/subscriptions.py), and
    delete finished deliveries' rows once they are old (hourly)."""
    connect, pruned = connections(exchange.engine), [0.0]

    def once():
        busy = exchange.subscriptions.deliver_due(connect)
        if time.monotonic() - pruned[0] > prune_every:
            exchange.subscriptions.prune(connect)
            pruned[0] = time.monotonic()
        return busy

    run_on_change(stop, every, once, "subscription deliveries", _probe(exchange), at_once_when_busy=True)


def deliver_notices_forever(exchange: Exchange, stop: threading.Event, every: float = 0.2) -> None:
    """Send due notice deliveries until STOP (service_layer/delivery.py); a mail server that is
    away only delays them: each try that fails is kept and the next one waits (backoff)."""
    def units(write: bool = False):
        return exchange.uow(write=write)

    run_on_change(stop, every, lambda: exchange.deliverer.sweep(units), "notice delivery", _probe(exchange))


class ExchangeWorker(Worker):
    """The common worker plus the sweeper and the delivery threads (notices, webhooks, subscriptions)."""

    exchange: Exchange | None = None

    def extra_threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=sweep_forever, args=(self.exchange, self.stop), name="sweeper",
                                 daemon=True),
                threading.Thread(target=deliver_webhooks_forever, args=(self.exchange, self.stop),
                                 name="webhooks", daemon=True),
                threading.Thread(target=deliver_subscriptions_forever, args=(self.exchange, self.stop),
                                 name="subscriptions", daemon=True),
                threading.Thread(target=deliver_notices_forever, args=(self.exchange, self.stop),
                                 name="notices", daemon=True)]


def main() -> int:
    """Run the exchange worker until a signal."""
    exchange = bootstrap(load_settings("exchange"))
    log.info("webhook signing key %s", exchange.receipts.signer.kid)  # made now, so the gateway publishes it
    # A factory: a producer that failed (a broker restarted, say) is replaced, not reused.
    dead_letters = KafkaPublisher(lambda: kafka.producer(exchange.settings.kafka_bootstrap, client_id="exchange-dlq"))
    worker = ExchangeWorker(exchange.settings, exchange.engine, outbox, consumer_specs(exchange, dead_letters))
    worker.exchange = exchange
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
