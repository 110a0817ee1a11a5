"""In-memory stand-ins for the exchange service's peers, for unit and fault tests.

FakeConsent answers decisions from a table the test controls (or is "down"); FakeRecords
answers phr.records.fetch events the way the records worker does (same request id, same
reference) and serves the Bundles; Pump moves the exchange outbox's events through the real
idempotent consumer, as the broker and the workers would.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.peers import PeerUnavailable
from services.exchange.adapters.tables import outbox, processed_events


@dataclass
class FakeConsent:
    """Permit what ``permits`` names ({(patient, actor): obligations}); deny the rest; or be down."""

    permits: dict = field(default_factory=dict)
    down: bool = False
    calls: list = field(default_factory=list)

    def decide(self, patient, actor, purpose, classes, bearer=None):
        self.calls.append((patient, actor, purpose, tuple(classes), bearer))
        if self.down:
            raise PeerUnavailable("consent: down (fake)")
        obligations = self.permits.get((patient, actor))
        if obligations is None:
            return {"decision": "deny", "consent_id": None, "consent_version": None, "obligations": []}
        return {"decision": "permit", "consent_id": f"c-{patient}", "consent_version": 1,
                "obligations": list(obligations), "basis": "consent"}


@dataclass
class FakeRecords:
    """Answer fetch requests once per request id and serve the Bundles by reference."""

    resources: int = 3
    redacted: int = 1
    bundles: dict = field(default_factory=dict)

    def reply(self, fetch_event: dict) -> dict:
        data = fetch_event["data"]
        ref = f"b-{data['request_id']}"
        self.bundles[ref] = {"resourceType": "Bundle", "type": "collection", "id": ref,
                             "entry": [{"resource": {"resourceType": "Observation", "id": str(i)}}
                                       for i in range(self.resources)]}
        return new_event("phr.records.fetched", "/services/records", data["patient"], {
            "request_id": data["request_id"], "patient": data["patient"], "bundle_ref": ref,
            "resource_count": self.resources, "redacted_count": self.redacted})

    def bundle(self, ref, bearer):
        resp = requests.Response()
        doc = self.bundles.get(ref)
        resp.status_code = 200 if doc else 404
        resp._content = json.dumps(doc or {}).encode()
        return resp


class Letters:
    """A dead-letter publisher that keeps what it is given."""

    def __init__(self):
        self.sent = []

    def publish(self, topic, key, value, headers):
        self.sent.append((topic, value))

    def flush(self):
        pass


class Pump:
    """Deliver the outbox's unsent events to the flow consumer, answering fetches as records would."""

    def __init__(self, exchange, records: FakeRecords, handlers: dict):
        self.exchange, self.records = exchange, records
        self.letters = Letters()
        self.consumer = IdempotentConsumer("exchange.flow", exchange.engine, processed_events, handlers,
                                           self.letters)
        self.delivered: list[dict] = []

    def take(self) -> list[dict]:
        """Mark every unsent outbox row sent and return its events."""
        with self.exchange.engine.begin() as conn:
            rows = conn.execute(sa.select(outbox.c.seq, outbox.c.payload).where(outbox.c.sent_at.is_(None))
                                .order_by(outbox.c.seq)).all()
            if rows:
                conn.execute(outbox.update().where(outbox.c.seq.in_([r.seq for r in rows]))
                             .values(sent_at=sa.func.current_timestamp()))
        return [json.loads(r.payload) for r in rows]

    def run(self, rounds: int = 10, drop_fetches: bool = False) -> list[dict]:
        """Deliver until nothing is left (or ROUNDS); return every event seen."""
        seen = []
        for _ in range(rounds):
            events = self.take()
            if not events:
                break
            for event in events:
                seen.append(event)
                if event["type"] == "phr.records.fetch" and not drop_fetches:
                    self.deliver(self.records.reply(event))
                elif event["type"] == "phr.exchange.requested":
                    self.deliver(event)
        return seen

    def deliver(self, event: dict) -> str:
        self.delivered.append(event)
        return self.consumer.handle("phr.exchange.v1", json.dumps(event).encode())
