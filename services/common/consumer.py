"""Idempotent Kafka consumer with bounded retries and a dead-letter topic (docs/architecture.md, "Events")."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from kafka.errors import KafkaError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from services.common import envelope, tracing
from services.common.db import transaction
from services.common.outbox import Publisher, Unpublishable

log = logging.getLogger(__name__)

Handler = Callable[[sa.Connection, dict], None]

#: At most this many records of a poll share one transaction (IdempotentConsumer.handle_together):
#: enough to spread a commit's cost, few enough that a write lock is not held for long.
BATCH = 32


def prune_processed(engine: Engine, processed: sa.Table, before: datetime) -> int:
    """Forget the events PROCESSED says were applied before BEFORE; return how many rows went.

    An event published again after that is applied again, so the retention that sets BEFORE
    must outlast any time the same event can come twice (services/common/worker.py,
    processed_retention).
    """
    with transaction(engine) as conn:
        return conn.execute(processed.delete().where(processed.c.processed_at < before)).rowcount


class InfrastructureError(Exception):
    """The effect could not be stored for a reason unrelated to the message (retry later)."""


class IdempotentConsumer:
    """Apply each event at most once: the effect and the processed mark share one transaction."""

    def __init__(self, name: str, engine: Engine, processed: sa.Table,
                 handlers: dict[str, Handler], dead_letters: Publisher, max_attempts: int = 3,
                 wait: Callable | None = None, batch: int = BATCH):
        self.name, self.engine, self.processed, self.batch = name, engine, processed, batch
        self.handlers, self.dead_letters, self.max_attempts = handlers, dead_letters, max_attempts
        self.wait = wait or wait_exponential(multiplier=0.1, max=2)

    def handle(self, topic: str, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> str:
        """Process one message; return 'applied', 'duplicate', 'ignored' or 'dead-lettered'.

        Raises InfrastructureError when the database is away, so the caller re-reads the message.
        The handler runs inside the trace of the message's traceparent, so the events it enqueues
        and the HTTP calls it makes continue that trace (services/common/tracing.py).
        """
        with tracing.consuming(headers, topic):
            outcome = self._handle(topic, value, headers)
            # One line per event a consumer acts on: with its trace id, it places the hop in the trace.
            log.log(logging.DEBUG if outcome == "ignored" else logging.INFO, "%s: %s a message from %s",
                    self.name, outcome, topic)
            return outcome

    def _handle(self, topic: str, value: bytes, headers: list[tuple[str, bytes]] | None) -> str:
        try:
            event = envelope.parse(value)
        except ValueError as exc:
            return self._dead_letter(topic, value, headers, f"unparseable: {exc}")
        handler = self.handlers.get(event["type"])
        if handler is None:
            return "ignored"
        try:
            for attempt in Retrying(stop=stop_after_attempt(self.max_attempts), wait=self.wait,
                                    retry=retry_if_not_exception_type(OperationalError), reraise=True):
                with attempt:
                    return self._apply(handler, event)
        except OperationalError as exc:
            raise InfrastructureError(str(exc)) from exc
        except Exception as exc:  # the handler refused this message max_attempts times
            log.exception("event %s failed %d times", event.get("id"), self.max_attempts)
            return self._dead_letter(topic, value, headers, f"{type(exc).__name__}: {exc}")
        return "applied"  # pragma: no cover - Retrying always returns or raises above

    def _apply(self, handler: Handler, event: dict) -> str:
        p = self.processed
        try:
            with transaction(self.engine) as conn:
                seen = conn.execute(sa.select(p.c.event_id).where(
                    p.c.consumer == self.name, p.c.event_id == event["id"])).first()
                if seen:
                    return "duplicate"
                handler(conn, event)
                conn.execute(p.insert().values(consumer=self.name, event_id=event["id"],
                                               processed_at=datetime.now(timezone.utc)))
        except IntegrityError:
            # Another consumer instance stored the same event first: the effect exists once.
            with self.engine.connect() as conn:
                if conn.execute(sa.select(p.c.event_id).where(
                        p.c.consumer == self.name, p.c.event_id == event["id"])).first():
                    return "duplicate"
            raise
        return "applied"

    def _read_again(self, kafka_consumer) -> None:
        """The broker restarted empty and its relays send again what it lost: read every
        partition from its beginning (this poll's messages too); what was applied is dropped
        as a duplicate (services/common/redelivery.py)."""
        assigned = kafka_consumer.assignment()
        log.warning("%s: the broker restarted; reading its %d assigned partition(s) from the beginning",
                    self.name, len(assigned))
        if assigned:
            kafka_consumer.seek_to_beginning(*assigned)

    def _dead_letter(self, topic, value, headers, reason) -> str:
        """Set the message aside on TOPIC.dlq. A broker that cannot take it now is not the
        message's fault: InfrastructureError, so the caller reads the message again later and
        its offset is not committed past it (nothing is lost, the worker goes on)."""
        log.error("dead-lettering a message from %s: %s", topic, reason)
        try:
            self.dead_letters.publish(f"{topic}.dlq", "", value,
                                      list(headers or []) + [("dlq-reason", reason.encode()[:500]),
                                                             ("dlq-consumer", self.name.encode())])
            refused = self.dead_letters.flush()
        except Unpublishable as exc:
            # Larger than the broker takes even on its dead-letter topic: the log line above is
            # all that is left of it, so say so plainly.
            log.error("%s: the message from %s could not be set aside either (%s); only this log keeps it",
                      self.name, topic, exc)
            return "dead-lettered"
        except (KafkaError, OSError) as exc:  # the broker away or restarting
            raise InfrastructureError(f"the dead-letter topic {topic}.dlq cannot take it now "
                                      f"({type(exc).__name__}: {exc})") from exc
        if refused:
            log.error("%s: the broker refused the dead letter from %s (%s); only this log keeps it",
                      self.name, topic, ", ".join(refused.values()))
        return "dead-lettered"

    def handle_together(self, messages) -> bool:
        """Apply MESSAGES (records with topic, value, headers) in one transaction; True if done.

        Applying a poll's records together costs one commit (one fsync, one write lock) instead
        of one each. False, with nothing stored, when any of them is not a plain case (not a
        CloudEvent, a handler error, the database away, another instance first): the caller
        then handles them one by one (handle()), so only a bad message is dead-lettered and
        retries and outages behave as they always did. Events of no handler are skipped; an
        event already processed, or twice in MESSAGES, takes effect once.
        """
        work = []
        for message in messages:
            try:
                event = envelope.parse(message.value)
            except ValueError:
                return False
            handler = self.handlers.get(event["type"])
            if handler is not None:
                work.append((message, event, handler))
        if not work:
            return True
        p, outcomes = self.processed, []
        try:
            with transaction(self.engine) as conn:
                ids = list({event["id"] for _message, event, _handler in work})
                seen = set(conn.execute(sa.select(p.c.event_id).where(
                    p.c.consumer == self.name, p.c.event_id.in_(ids))).scalars())
                now = datetime.now(timezone.utc)
                for message, event, handler in work:
                    if event["id"] in seen:
                        outcomes.append((message, "duplicate"))
                        continue
                    with tracing.consuming(message.headers, message.topic):
                        handler(conn, event)
                    conn.execute(p.insert().values(consumer=self.name, event_id=event["id"], processed_at=now))
                    seen.add(event["id"])
                    outcomes.append((message, "applied"))
        except Exception as exc:  # noqa: BLE001 - handle() sorts it out message by message
            log.info("%s: %d messages applied one by one after %s", self.name, len(messages), type(exc).__name__)
            return False
        for message, outcome in outcomes:
            log.info("%s: %s a message from %s", self.name, outcome, message.topic)
        return True

    def run(self, kafka_consumer, stop: threading.Event, poll_ms: int = 1000, pacer=None,
            broker_watch=None) -> None:
        """Poll KAFKA_CONSUMER until STOP; commit offsets only after effects are stored.

        A poll's records are applied BATCH at a time in one transaction (handle_together).
        A poll can block until POLL_MS: it returns as soon as records come, so a long one
        costs no latency and saves idle wake-ups. A broker that is away makes poll() raise:
        the worker waits and polls again (kafka-python reconnects) rather than stopping.
        PACER (a services.common.kafka.FetchPacer) hears after each poll whether it brought messages.
        BROKER_WATCH (a services.common.redelivery.BrokerWatch) tells when the broker restarted."""
        failures = 0
        while not stop.is_set():
            try:
                batches = kafka_consumer.poll(timeout_ms=poll_ms)
            except KafkaError as exc:
                failures += 1
                log.warning("%s: poll failed (%d in a row), trying again: %s", self.name, failures, exc)
                stop.wait(min(0.2 * 2 ** min(failures, 5), 5.0))
                continue
            failures = 0
            if pacer is not None:
                pacer.observe(bool(batches))
            if broker_watch is not None and broker_watch.restarted():
                self._read_again(kafka_consumer)
                continue
            if not batches:
                continue
            polled = list(batches.items())
            for done, (tp, messages) in enumerate(polled):
                if not self._apply_records(kafka_consumer, tp, messages, stop):
                    # poll() already moved every partition it returned past its records, and
                    # commit() commits those positions: the partitions not handled yet go
                    # back to their first record too, or they would be skipped.
                    for later, rest in polled[done + 1:]:
                        kafka_consumer.seek(later, rest[0].offset)
                    break
            try:
                kafka_consumer.commit()
            except KafkaError as exc:
                # The broker restarting, or the group rebalancing after it: the effects are
                # stored, and the messages whose offsets did not commit come again and are
                # duplicates then. Stopping the worker here would stop the whole stack.
                log.warning("offsets not committed, the messages will come again: %s", exc)
                stop.wait(1.0)

    def _apply_records(self, kafka_consumer, tp, messages, stop: threading.Event) -> bool:
        """Apply one partition's MESSAGES; False if the database or the dead-letter topic was
        away (the rest will be re-read)."""
        for start in range(0, len(messages), self.batch):
            chunk = messages[start:start + self.batch]
            if len(chunk) > 1 and self.handle_together(chunk):
                continue
            for message in chunk:
                try:
                    self.handle(message.topic, message.value, message.headers)
                except InfrastructureError as exc:
                    log.warning("%s: could not finish %s@%d, will read it again: %s", self.name, tp,
                                message.offset, exc)
                    kafka_consumer.seek(tp, message.offset)
                    stop.wait(1.0)
                    return False
        return True
