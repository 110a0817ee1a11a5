"""JSON Schemas of the CloudEvents the services publish, and their validation.

Each event type has ``contracts/events/<type>.json`` (JSON Schema 2020-12) covering the
envelope and ``data``. The file also says where the event travels: ``x-topic`` (its Kafka
topic), ``x-producer`` (the service that publishes it) and ``x-consumers`` (those that read
it). Adding an event type to the contract means adding its file; nothing else to register.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

log = logging.getLogger(__name__)
EVENTS_DIR = Path(__file__).parent / "events"

#: The Kafka topics events travel on (each event file's ``x-topic`` names one of them); every
#: topic has a ``<topic>.dlq`` beside it for events its consumers gave up on.
TOPICS = ("phr.consent.v1", "phr.records.v1", "phr.exchange.v1", "phr.records.fetch.v1",
          "phr.audit.v1", "phr.notify.v1", "phr.accounts.v1", "phr.directory.v1", "phr.feedback.v1")
#: Partitions per topic; events are keyed by patient id, so one patient's events keep their order.
PARTITIONS = 6



@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict]:
    """Return {event type: {"topic", "producer", "consumers"}} read from the schema files."""
    found = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        found[path.stem] = {"topic": doc["x-topic"], "producer": doc["x-producer"],
                            "consumers": tuple(doc.get("x-consumers", ()))}
    return found


@lru_cache(maxsize=None)
def schema(event_type: str) -> dict:
    """Return the JSON Schema of EVENT_TYPE (KeyError when the contract has none)."""
    path = EVENTS_DIR / f"{event_type}.json"
    if not path.exists():
        raise KeyError(event_type)
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(schema(event_type), format_checker=FormatChecker())


def problems(event: dict) -> list[str]:
    """Return what is wrong with EVENT against the contract (empty when it conforms)."""
    event_type = event.get("type") if isinstance(event, dict) else None
    if event_type not in catalogue():
        return [f"event type {event_type!r} is not in the contract"]
    return [f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}"
            for e in _validator(event_type).iter_errors(event)]


class EventContractError(ValueError):
    """An event the service was about to publish breaks its schema."""


@dataclass
class EventChecker:
    """Check events before they enter the outbox: ``enforce`` raises, ``report`` logs, ``off`` skips."""

    mode: str = "report"
    violations: int = field(default=0)

    def check(self, event: dict) -> None:
        if self.mode == "off":
            return
        found = problems(event)
        if not found:
            return
        self.violations += 1
        if self.mode == "enforce":
            raise EventContractError(f"{event.get('type')}: {'; '.join(found)}")
        log.warning("event %s breaks its contract: %s", event.get("type"), "; ".join(found))
