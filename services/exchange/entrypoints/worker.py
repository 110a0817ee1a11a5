"""Worker process of the exchange service: the request flow, notifications, the records index,
the equity report's projection, the sweeper that drives due requests again, and the outbox relay."""
from __future__ import annotations

import logging
import sys
import threading

from services.common import kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.outbox import KafkaPublisher, OutboxRelay
from services.common.worker import ConsumerSpec, Worker
from services.exchange.adapters.tables import outbox, processed_events
from services.exchange.bootstrap import Exchange, bootstrap
from services.exchange.service_layer.equity import EQUITY_HANDLERS, EQUITY_TOPICS
from services.exchange.service_layer.flow import connections
from services.exchange.service_layer.handlers import HANDLERS
from services.exchange.service_layer.notify import NOTIFY_HANDLERS

log = logging.getLogger(__name__)
FLOW_GROUP, NOTIFY_GROUP, RECORDS_GROUP = "phr-exchange-flow", "phr-exchange-notify", "phr-exchange-records"
EQUITY_GROUP = "phr-exchange-equity"
FLOW_TOPICS = ["phr.exchange.v1", "phr.records.fetch.v1"]
FETCH_WAIT_MS = 10


def flow_handlers(exchange: Exchange) -> dict:
    """The flow consumer's routing table (our own requests, and records' replies)."""
    return {"phr.exchange.requested": exchange.flow.on_requested,
            "phr.records.fetched": exchange.flow.on_fetched}


def consumer_specs(exchange: Exchange, dead_letters) -> list[ConsumerSpec]:
    engine = exchange.engine
    return [
        ConsumerSpec(FLOW_GROUP, FLOW_TOPICS, IdempotentConsumer(
            "exchange.flow", engine, processed_events, flow_handlers(exchange), dead_letters),
            fetch_wait_ms=FETCH_WAIT_MS),
        ConsumerSpec(NOTIFY_GROUP, ["phr.consent.v1"], IdempotentConsumer(
            "exchange.notify", engine, processed_events, NOTIFY_HANDLERS, dead_letters)),
        ConsumerSpec(RECORDS_GROUP, ["phr.records.v1"], IdempotentConsumer(
            "exchange.records-index", engine, processed_events, HANDLERS, dead_letters)),
        ConsumerSpec(EQUITY_GROUP, EQUITY_TOPICS, IdempotentConsumer(
            "exchange.equity", engine, processed_events, EQUITY_HANDLERS, dead_letters)),
    ]


def sweep_forever(exchange: Exchange, stop: threading.Event, every: float = 0.5) -> None:
    """Drive due pending requests again until STOP (consent away, a message lost)."""
    connect = connections(exchange.engine)
    while not stop.is_set():
        try:
            exchange.flow.sweep(connect)
        except Exception as exc:  # database away: try again on the next round
            log.warning("sweeper paused: %s", exc)
        stop.wait(every)


class ExchangeWorker(Worker):
    """The common worker, with consumers tuned for latency, plus the sweeper thread."""

    exchange: Exchange | None = None

    def start(self):
        kafka.ensure_topics(self.settings.kafka_bootstrap)
        bootstrap, client_id = self.settings.kafka_bootstrap, f"{self.settings.service}-relay"
        relay = OutboxRelay(self.engine, self.outbox,
                            KafkaPublisher(lambda: kafka.producer(bootstrap, client_id=client_id)),
                            poll_seconds=self.settings.outbox_poll_seconds)
        threads = [threading.Thread(target=relay.run_forever, args=(self.stop,), name="relay", daemon=True),
                   threading.Thread(target=sweep_forever, args=(self.exchange, self.stop), name="sweeper",
                                    daemon=True)]
        for spec in self.specs:
            # The client's default fetch wait (500 ms) is paid on every hop of the flow when the
            # broker holds a fetch open until then: the flow asks for data as soon as there is any;
            # notifications, the patient index and the equity projection can wait a little.
            client = kafka.consumer(bootstrap, spec.group, spec.topics, fetch_max_wait_ms=spec.fetch_wait_ms)
            threads.append(threading.Thread(target=self._consume, args=(spec, client), name=spec.group,
                                            daemon=True))
        for t in threads:
            t.start()
        log.info("exchange worker running: relay + sweeper + %d consumer group(s)", len(self.specs))
        return threads


def main() -> int:
    """Run the exchange worker until a signal."""
    exchange = bootstrap(load_settings("exchange"))
    dead_letters = KafkaPublisher(kafka.producer(exchange.settings.kafka_bootstrap, client_id="exchange-dlq"))
    worker = ExchangeWorker(exchange.settings, exchange.engine, outbox, consumer_specs(exchange, dead_letters))
    worker.exchange = exchange
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
