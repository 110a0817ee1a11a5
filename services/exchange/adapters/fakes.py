"""In-memory stand-ins for the exchange service's peers and storage, for unit and fault tests.

FakeConsent answers decisions from a table the test controls (or is "down"); FakeRecords
answers phr.records.fetch events the way the records worker does (same request id, same
reference) and serves the Bundles; FakeUnitOfWork holds the repositories of
adapters/repository.py in memory and keeps what was published; Pump moves the exchange
outbox's events through the real idempotent consumer, as the broker and the workers would.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa

from services.common.consumer import IdempotentConsumer
from services.common.envelope import new_event
from services.exchange.adapters.peers import PeerUnavailable
from services.exchange.adapters.tables import outbox, processed_events
from services.exchange.domain import ledger as chain
from services.exchange.domain.model import PENDING, ExchangeRequest, IndexedPatient, Notification


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

    def publish(self, topic, key, value, headers, timestamp_ms=None):
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


class FakeRequests:
    """SqlRequests in memory."""

    def __init__(self):
        self.rows: dict[str, ExchangeRequest] = {}

    def add(self, req: ExchangeRequest) -> None:
        assert req.id not in self.rows
        self.rows[req.id] = req

    def get(self, request_id: str, lock: bool = False) -> ExchangeRequest | None:
        return self.rows.get(request_id)

    def change(self, request_id: str, **values) -> None:
        if request_id in self.rows:
            self.rows[request_id] = dataclasses.replace(self.rows[request_id], **values)

    def due(self, now, limit: int) -> list[str]:
        waiting = sorted((r for r in self.rows.values() if r.status == PENDING and r.next_attempt_at <= now),
                         key=lambda r: r.next_attempt_at)
        return [r.id for r in waiting[:limit]]

    def pending_from(self, requester: str) -> list[str]:
        mine = sorted((r for r in self.rows.values() if r.status == PENDING and r.requester == requester),
                      key=lambda r: (r.created_at, r.id))
        return [r.id for r in mine]


class FakeDepartments:
    """SqlDepartments in memory: the ids of the departments the directory holds as active."""

    def __init__(self, active=()):
        self.active = set(active)

    def is_active(self, department: str) -> bool:
        return department in self.active


class FakeLedger:
    """SqlLedger in memory (each Link with its request and patient)."""

    def __init__(self):
        self.entries: list[tuple[chain.Link, str, str]] = []
        self.head_row: tuple[int, str] | None = None

    def head(self, lock: bool = False) -> tuple[int, str] | None:
        return self.head_row

    def append(self, link: chain.Link, request_id: str, patient: str, first: bool) -> None:
        assert first == (self.head_row is None) and request_id not in [r for _, r, _ in self.entries]
        self.entries.append((link, request_id, patient))
        self.head_row = (link.seq, link.hash)

    def links(self, after: int = 0) -> list[chain.Link]:
        return sorted((link for link, _, _ in self.entries if link.seq > after), key=lambda link: link.seq)

    def hash_of(self, seq: int) -> str | None:
        return next((link.hash for link, _, _ in self.entries if link.seq == seq), None)

    def for_patient(self, patient: str, limit: int, offset: int) -> tuple[list[dict], bool]:
        mine = sorted((link for link, _, p in self.entries if p == patient), key=lambda link: -link.seq)
        page = mine[offset:offset + limit + 1]
        return [{**json.loads(link.entry_text), "hash": link.hash} for link in page[:limit]], len(page) > limit


class FakeNotifications:
    """SqlNotifications in memory."""

    def __init__(self):
        self.rows: list[tuple[str, Notification]] = []  # (source id, notification)

    def add_once(self, patient, kind, source_id, when, params) -> str | None:
        if source_id in [s for s, _ in self.rows]:
            return None
        notification = Notification(str(uuid.uuid4()), patient, kind, dict(params), when)
        self.rows.append((source_id, notification))
        return notification.id

    def for_patient(self, patient: str, limit: int, offset: int) -> tuple[list[Notification], bool]:
        mine = sorted((n for _, n in self.rows if n.patient == patient), key=lambda n: n.id)
        mine.sort(key=lambda n: n.created_at, reverse=True)
        page = mine[offset:offset + limit + 1]
        return page[:limit], len(page) > limit


class FakePatientIndex:
    """SqlPatientIndex in memory."""

    def __init__(self):
        self.rows: dict[str, IndexedPatient] = {}

    def get(self, patient_id: str) -> IndexedPatient | None:
        return self.rows.get(patient_id)

    def add(self, entry: IndexedPatient) -> None:
        assert entry.patient_id not in self.rows
        self.rows[entry.patient_id] = entry

    def replace(self, entry: IndexedPatient) -> None:
        self.rows[entry.patient_id] = entry


class FakeUnitOfWork:
    """The exchange repositories in memory, and the events published (topic, event). Nothing is
    rolled back: a test that needs a transaction to fail uses the real database.
    ACTIVE names the departments the directory holds as active."""

    def __init__(self, active=()):
        self.requests, self.ledger = FakeRequests(), FakeLedger()
        self.notifications, self.patients = FakeNotifications(), FakePatientIndex()
        self.departments = FakeDepartments(active)
        self.published: list[tuple[str, dict]] = []
        self.entered = 0

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *exc):
        return None

    def publish(self, topic: str, event: dict, traceparent: str | None = None, created_at=None) -> None:
        self.published.append((topic, event))

    def units(self):
        """A factory for Flow.sweep that gives this unit of work every time."""

        @contextmanager
        def unit(write: bool = False):
            yield self

        return unit
