"""JSON Schemas of the CloudEvents the services publish, and their validation.

Each event type has ``contracts/events/<type>.json`` (JSON Schema 2020-12) covering the
envelope and ``data``; ``TOPICS`` says on which topic each type travels (AsyncAPI channels).
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

#: Event type -> topic (DESIGN section 2). Every type here has a schema file.
TOPICS: dict[str, str] = {
    "phr.records.imported": "phr.records.v1",
}

#: Event type -> the service that publishes it, and the services that consume it.
PRODUCERS: dict[str, str] = {"phr.records.imported": "records"}
CONSUMERS: dict[str, tuple[str, ...]] = {"phr.records.imported": ("exchange",)}


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
    if event_type not in TOPICS:
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
