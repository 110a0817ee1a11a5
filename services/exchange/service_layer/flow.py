"""The exchange flow: request -> decision -> fetch -> decision again -> release (or a refusal).

Every step runs inside one database transaction with the request's row locked, re-reads the
request's state first (so a duplicate or late message changes nothing), and queues its
events through the outbox. A pending request carries ``next_attempt_at``: the sweeper drives
the current step again when it is due, which covers a consent service that did not answer
and a message the broker lost when it restarted (memory storage).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa

from services.common.envelope import new_event
from services.common.outbox import enqueue
from services.exchange.adapters.peers import PeerRefused, PeerUnavailable
from services.exchange.adapters.tables import exchange_requests as R
from services.exchange.adapters.tables import ledger, ledger_head, notifications, outbox
from services.exchange.domain import ledger as chain
from services.exchange.domain import model as m

SOURCE = "/services/exchange"
TOPIC = "phr.exchange.v1"
FETCH_TOPIC = "phr.records.fetch.v1"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass
class Flow:
    """The flow's dependencies: the consent client, the clock, the event checker, the limits."""

    consent: object  # .decide(patient, actor, purpose, classes) -> dict
    checker: object = None
    clock: Callable[[], datetime] = utc_now
    deadline: float = 120.0  # a request not finished by then fails closed
    fetch_wait: float = 5.0  # ask records again when no reply came in this long
    on_release: list = field(default_factory=list)  # callbacks(request_row) for metrics

    # --- the request --------------------------------------------------------------------

    def submit(self, conn: sa.Connection, patient: str, requester: str, purpose: str,
               resource_types: list[str], reason: str | None) -> dict:
        """Store a pending request and its phr.exchange.requested event together."""
        now, request_id = self.clock(), str(uuid.uuid4())
        row = dict(id=request_id, patient=patient, requester=requester, purpose=purpose,
                   resource_types=json.dumps(list(resource_types)), reason=reason, status=m.PENDING,
                   step=m.DECIDE, redact_labels="[]", obligations="[]", attempts=0,
                   next_attempt_at=now + timedelta(seconds=self.fetch_wait), created_at=now, updated_at=now)
        conn.execute(R.insert().values(**row))
        self._publish(conn, TOPIC, new_event("phr.exchange.requested", SOURCE, patient, {
            "request_id": request_id, "patient": patient, "requester": requester, "purpose": purpose,
            "resource_types": list(resource_types)}))
        return row

    # --- event handlers -----------------------------------------------------------------

    def on_requested(self, conn: sa.Connection, event: dict) -> None:
        req = self._locked(conn, str(event["data"]["request_id"]))
        if req is not None and req.status == m.PENDING and req.step == m.DECIDE:
            self.decide(conn, req)

    def on_fetched(self, conn: sa.Connection, event: dict) -> None:
        data = event["data"]
        req = self._locked(conn, str(data["request_id"]))
        if req is None or req.status != m.PENDING or req.step != m.FETCH:
            return  # not ours, already answered, or a duplicate reply
        conn.execute(R.update().where(R.c.id == req.id).values(
            step=m.RELEASE, bundle_ref=str(data["bundle_ref"]), resource_count=int(data["resource_count"]),
            redacted_count=int(data["redacted_count"]), attempts=0, updated_at=self.clock()))
        self.release(conn, self._locked(conn, req.id))

    # --- steps --------------------------------------------------------------------------

    def decide(self, conn: sa.Connection, req) -> None:
        """Ask for a fresh decision; on permit ask records for the data, else refuse."""
        decision = self._ask(conn, req)
        if decision is None:
            return
        if decision["decision"] != "permit":
            return self._finish(conn, req, "no-consent")
        obligations = list(decision.get("obligations") or [])
        conn.execute(R.update().where(R.c.id == req.id).values(
            step=m.FETCH, consent_id=decision.get("consent_id"), consent_version=decision.get("consent_version"),
            basis=decision.get("basis") or ("break-glass" if decision.get("break_glass_id") else "consent"),
            break_glass_id=decision.get("break_glass_id"), obligations=json.dumps(obligations),
            redact_labels=json.dumps(m.redact_labels(obligations)), attempts=0,
            next_attempt_at=self.clock() + timedelta(seconds=self.fetch_wait), updated_at=self.clock()))
        self._ask_records(conn, self._locked(conn, req.id))

    def release(self, conn: sa.Connection, req) -> None:
        """Decide again right before release; write the ledger entry and fulfil, or refuse."""
        decision = self._ask(conn, req)
        if decision is None:
            return
        if decision["decision"] != "permit":
            return self._finish(conn, req, "consent-withdrawn")
        if m.narrowed(json.loads(req.redact_labels), m.redact_labels(decision.get("obligations") or [])):
            return self._finish(conn, req, "consent-narrowed")
        seq, digest = self._append_ledger(conn, req, decision)
        self._finish(conn, req, "released", ledger_seq=seq, ledger_hash=digest)
        # Every disclosure is told to the patient, whatever the consent's notify flag says.
        add_notification(conn, req.patient, "disclosure", f"disclosure:{req.id}", self.clock(), {
            "department": req.requester, "purpose": req.purpose, "request_id": req.id,
            "resource_count": req.resource_count or 0, "basis": req.basis or "consent"})

    def sweep(self, conn_factory, limit: int = 50) -> int:
        """Drive every due pending request one step further; return how many were touched."""
        now = self.clock()
        with conn_factory() as conn:
            due = [r.id for r in conn.execute(sa.select(R.c.id).where(
                R.c.status == m.PENDING, R.c.next_attempt_at <= now).order_by(R.c.next_attempt_at)
                .limit(limit))]
        for request_id in due:
            with conn_factory(write=True) as conn:
                req = self._locked(conn, request_id)
                if req is None or req.status != m.PENDING or _utc(req.next_attempt_at) > self.clock():
                    continue
                self.advance(conn, req)
        return len(due)

    def advance(self, conn: sa.Connection, req) -> None:
        """Run the step REQ waits for again (or fail it closed past the deadline)."""
        if (self.clock() - _utc(req.created_at)).total_seconds() > self.deadline:
            code = "records-unavailable" if req.step == m.FETCH else "consent-unavailable"
            return self._finish(conn, req, code)
        if req.step == m.DECIDE:
            self.decide(conn, req)
        elif req.step == m.FETCH:
            self._ask_records(conn, req)
        elif req.step == m.RELEASE:
            self.release(conn, req)

    # --- helpers ------------------------------------------------------------------------

    def _locked(self, conn: sa.Connection, request_id: str):
        return conn.execute(sa.select(R).where(R.c.id == request_id).with_for_update()).first()

    def _ask(self, conn: sa.Connection, req) -> dict | None:
        """Return a fresh decision, or None after scheduling a retry (consent away) or failing."""
        try:
            return self.consent.decide(req.patient, req.requester, req.purpose, json.loads(req.resource_types))
        except PeerUnavailable:
            attempts = req.attempts + 1
            conn.execute(R.update().where(R.c.id == req.id).values(
                attempts=attempts, updated_at=self.clock(),
                next_attempt_at=self.clock() + timedelta(seconds=m.retry_delay(attempts))))
            return None
        except PeerRefused:
            self._finish(conn, req, "refused-by-consent")
            return None

    def _ask_records(self, conn: sa.Connection, req) -> None:
        conn.execute(R.update().where(R.c.id == req.id).values(
            attempts=req.attempts + 1, next_attempt_at=self.clock() + timedelta(seconds=self.fetch_wait)))
        self._publish(conn, FETCH_TOPIC, new_event("phr.records.fetch", SOURCE, req.patient, {
            "request_id": req.id, "patient": req.patient, "resource_types": json.loads(req.resource_types),
            "redact_labels": json.loads(req.redact_labels), "requester": req.requester}))

    def _append_ledger(self, conn: sa.Connection, req, decision: dict) -> tuple[int, str]:
        head = conn.execute(sa.select(ledger_head).where(ledger_head.c.id == 1).with_for_update()).first()
        seq, prev = (head.seq + 1, head.hash) if head else (1, chain.GENESIS)
        entry = {"seq": seq, "request_id": req.id, "patient": req.patient, "recipient": req.requester,
                 "purpose": req.purpose, "resource_types": json.loads(req.resource_types),
                 "reason": req.reason, "consent_id": decision.get("consent_id"),
                 "consent_version": decision.get("consent_version"), "basis": req.basis,
                 "break_glass_id": decision.get("break_glass_id"),
                 "redacted_labels": json.loads(req.redact_labels), "redacted_count": req.redacted_count or 0,
                 "resource_count": req.resource_count or 0, "bundle_ref": req.bundle_ref,
                 "released_at": self.clock().isoformat()}
        digest = chain.entry_hash(entry, prev)
        conn.execute(ledger.insert().values(seq=seq, request_id=req.id, patient=req.patient,
                                            entry=chain.canonical(entry), prev_hash=prev, hash=digest))
        if head:
            conn.execute(ledger_head.update().where(ledger_head.c.id == 1).values(seq=seq, hash=digest))
        else:
            conn.execute(ledger_head.insert().values(id=1, seq=seq, hash=digest))
        return seq, digest

    def _finish(self, conn: sa.Connection, req, code: str, ledger_seq: int | None = None,
                ledger_hash: str | None = None) -> None:
        status, now = m.OUTCOMES[code], self.clock()
        conn.execute(R.update().where(R.c.id == req.id).values(
            status=status, step=m.DONE, outcome=code, ledger_seq=ledger_seq, updated_at=now))
        data = {"request_id": req.id, "patient": req.patient, "requester": req.requester,
                "purpose": req.purpose}
        if status == m.FULFILLED:
            data.update(consent_id=req.consent_id, consent_version=req.consent_version,
                        basis=req.basis or "consent", ledger_seq=ledger_seq, ledger_hash=ledger_hash,
                        resource_count=req.resource_count or 0, redacted_count=req.redacted_count or 0,
                        redacted_labels=json.loads(req.redact_labels))
        else:
            data.update(reason_code=code)
        self._publish(conn, TOPIC, new_event(f"phr.exchange.{status}", SOURCE, req.patient, data))

    def _publish(self, conn: sa.Connection, topic: str, event: dict) -> None:
        enqueue(conn, outbox, topic, event, checker=self.checker)


def connections(engine):
    """Return a factory of connections for Flow.sweep: ``factory(write=False)`` is a context manager."""
    from contextlib import contextmanager

    from services.common.db import read_only, transaction

    @contextmanager
    def connect(write: bool = False):
        with (transaction if write else read_only)(engine) as conn:
            yield conn

    return connect


def add_notification(conn: sa.Connection, patient: str, kind: str, source_id: str, when: datetime,
                     params: dict) -> None:
    """Store one notification for PATIENT (once per SOURCE_ID)."""
    exists = conn.execute(sa.select(notifications.c.id).where(notifications.c.source_id == source_id)).first()
    if exists is None:
        conn.execute(notifications.insert().values(id=str(uuid.uuid4()), patient=patient, kind=kind,
                                                   params=json.dumps(params), source_id=source_id,
                                                   created_at=when))
