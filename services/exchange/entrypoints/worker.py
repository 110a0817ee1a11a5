"""Worker process of the exchange service: consumes records events and relays its outbox."""
from __future__ import annotations

import sys

from services.common import kafka
from services.common.config import load_settings
from services.common.consumer import IdempotentConsumer
from services.common.outbox import KafkaPublisher
from services.common.worker import ConsumerSpec, Worker
from services.exchange.adapters.tables import outbox, processed_events
from services.exchange.bootstrap import bootstrap
from services.exchange.service_layer.handlers import HANDLERS


def main() -> int:
    """Run the exchange worker until a signal."""
    exchange = bootstrap(load_settings("exchange"))
    bootstrap_servers = exchange.settings.kafka_bootstrap
    dead_letters = KafkaPublisher(kafka.producer(bootstrap_servers, client_id="exchange-dlq"))
    consumer = IdempotentConsumer("exchange.records-index", exchange.engine, processed_events,
                                  HANDLERS, dead_letters)
    spec = ConsumerSpec("phr-exchange-records", ["phr.records.v1"], consumer)
    return Worker(exchange.settings, exchange.engine, outbox, [spec]).run()


if __name__ == "__main__":
    sys.exit(main())
