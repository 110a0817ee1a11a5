"""The exchange flow: request -> decision -> fetch -> decision again -> release (or a refusal).

Every step runs inside one database transaction with the request's row locked, re-reads the
request's state first (so a duplicate or late message changes nothing), and queues its
events through the outbox. A pending request carries ``next_attempt_at``: the sweeper drives
the current step again when it is due, which covers a consent service that did not answer
and a message the broker lost when it restarted (memory storage).

The steps work on a unit of work (service_layer/unit_of_work.py); the entry points also take
the connection of a transaction the caller opened (the idempotent consumer's, the sweeper's).
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, ContextManager

from services.common.db import read_only, transaction
from services.common.envelope import new_event
from services.exchange.adapters.peers import PeerRefused, PeerUnavailable
from services.exchange.domain import ledger as chain
from services.exchange.domain import model as m
from services.exchange.service_layer.unit_of_work import on

SOURCE = "/services/exchange"
TOPIC = "phr.exchange.v1"
FETCH_TOPIC = "phr.records.fetch.v1"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _untraced(_traceparent: str | None) -> ContextManager:
    return nullcontext()


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

    def submit(self, work, patient: str, requester: str, purpose: str,
               resource_types: list[str], reason: str | None, requested_by: dict | None = None,
               traceparent: str | None = None) -> dict:
        """Store a pending request and its phr.exchange.requested event together; return the
        request as a dict. REQUESTED_BY ({sub, fhirUser}) is the member of staff who asked for
        the department, kept with the request and carried in the event; None for the
        department's own system. TRACEPARENT, the asking request's trace, is kept for the
        sweeper's retries (sweep)."""
        uow, now, request_id = on(work, self.checker), self.clock(), str(uuid.uuid4())
        person = requested_by or {}
        req = m.ExchangeRequest(
            id=request_id, patient=patient, requester=requester, purpose=purpose,
            resource_types=list(resource_types), reason=reason, status=m.PENDING, step=m.DECIDE,
            redact_labels=[], obligations=[], attempts=0,
            next_attempt_at=now + timedelta(seconds=self.fetch_wait), created_at=now, updated_at=now,
            requested_by=person.get("sub"), requested_by_user=person.get("fhirUser"), traceparent=traceparent)
        uow.requests.add(req)
        data = {"request_id": request_id, "patient": patient, "requester": requester, "purpose": purpose,
                "resource_types": list(resource_types)}
        if requested_by is not None:
            data["requested_by"] = {"sub": person.get("sub"), "fhirUser": person.get("fhirUser")}
        uow.publish(TOPIC, new_event("phr.exchange.requested", SOURCE, patient, data))
        return asdict(req)

    # --- event handlers (the idempotent consumer's: a connection and the event) ----------

    def on_requested(self, work, event: dict) -> None:
        uow = on(work, self.checker)
        req = uow.requests.get(str(event["data"]["request_id"]), lock=True)
        if req is not None and req.status == m.PENDING and req.step == m.DECIDE:
            self.decide(uow, req)

    def on_fetched(self, work, event: dict) -> None:
        data, uow = event["data"], on(work, self.checker)
        req = uow.requests.get(str(data["request_id"]), lock=True)
        if req is None or req.status != m.PENDING or req.step != m.FETCH:
            return  # not ours, already answered, or a duplicate reply
        uow.requests.change(req.id, step=m.RELEASE, bundle_ref=str(data["bundle_ref"]),
                            resource_count=int(data["resource_count"]),
                            redacted_count=int(data["redacted_count"]), attempts=0, updated_at=self.clock())
        self.release(uow, uow.requests.get(req.id, lock=True))

    # --- steps --------------------------------------------------------------------------

    def decide(self, work, req: m.ExchangeRequest) -> None:
        """Ask for a fresh decision; on permit ask records for the data, else refuse."""
        uow = on(work, self.checker)
        if self._requester_gone(uow, req):
            return
        decision = self._ask(uow, req)
        if decision is None:
            return
        if decision["decision"] != "permit":
            return self._finish(uow, req, "no-consent")
        obligations = list(decision.get("obligations") or [])
        uow.requests.change(
            req.id, step=m.FETCH, consent_id=decision.get("consent_id"),
            consent_version=decision.get("consent_version"),
            basis=decision.get("basis") or ("break-glass" if decision.get("break_glass_id") else "consent"),
            break_glass_id=decision.get("break_glass_id"), obligations=obligations,
            redact_labels=m.redact_labels(obligations), attempts=0,
            next_attempt_at=self.clock() + timedelta(seconds=self.fetch_wait), updated_at=self.clock())
        self._ask_records(uow, uow.requests.get(req.id, lock=True))

    def release(self, work, req: m.ExchangeRequest) -> None:
        """Decide again right before release (domain.model.may_release); write the ledger entry
        and fulfil, or refuse."""
        uow = on(work, self.checker)
        if self._requester_gone(uow, req):
            return
        decision = self._ask(uow, req)
        if decision is None:
            return
        verdict = m.may_release(decision, req.redact_labels)
        if not verdict:
            return self._finish(uow, req, verdict.refusal)
        seq, digest = self._append_ledger(uow, req, decision)
        self._finish(uow, req, "released", ledger_seq=seq, ledger_hash=digest)
        # Every disclosure is told to the patient, whatever the consent's notify flag says.
        add_notification(uow, req.patient, "disclosure", f"disclosure:{req.id}", self.clock(), {
            "department": req.requester, "purpose": req.purpose, "request_id": req.id,
            "resource_count": req.resource_count or 0, "basis": req.basis or "consent"})

    def sweep(self, units, limit: int = 50, resume: Callable[[str | None], ContextManager] = _untraced) -> int:
        """Drive every due pending request one step further; return how many were touched.

        UNITS(write=False) is a context manager giving a unit of work or a connection
        (``connections`` below), one for the look-up and one per request. Each step runs
        inside RESUME(the request's traceparent), so what it causes joins the request's trace
        (the worker passes services.common.tracing.resumed)."""
        now = self.clock()
        with units() as work:
            due = on(work, self.checker).requests.due(now, limit)
        for request_id in due:
            with units(write=True) as work:
                uow = on(work, self.checker)
                req = uow.requests.get(request_id, lock=True)
                if req is None or req.status != m.PENDING or _utc(req.next_attempt_at) > self.clock():
                    continue
                with resume(req.traceparent):
                    self.advance(uow, req)
        return len(due)

    def advance(self, work, req: m.ExchangeRequest) -> None:
        """Run the step REQ waits for again (or fail it closed past the deadline)."""
        uow = on(work, self.checker)
        if (self.clock() - _utc(req.created_at)).total_seconds() > self.deadline:
            code = "records-unavailable" if req.step == m.FETCH else "consent-unavailable"
            return self._finish(uow, req, code)
        if req.step == m.DECIDE:
            self.decide(uow, req)
        elif req.step == m.FETCH:
            if not self._requester_gone(uow, req):
                self._ask_records(uow, req)
        elif req.step == m.RELEASE:
            self.release(uow, req)

    # --- the directory ------------------------------------------------------------------

    def on_department_changed(self, work, department) -> None:
        """Deny every pending request of DEPARTMENT (a services.common.directory.Department) that
        its new entry no longer lets go on (domain.model.directory_refusal: it was disabled).

        The THEN of the directory consumer's handlers: it runs in the transaction that kept the
        change, so the copy and the denials commit together, and a repeated or older event, which
        changes nothing, denies nothing either.
        """
        uow = on(work, self.checker)
        for request_id in uow.requests.pending_from(department.id):
            req = uow.requests.get(request_id, lock=True)
            code = m.directory_refusal(req, department.active) if req is not None else None
            if code is not None:
                self._stop(uow, req, code)

    def _requester_gone(self, uow, req: m.ExchangeRequest) -> bool:
        """End REQ when the directory copy (read in this transaction) no longer holds its
        requester as active; return whether it did. This covers a request stored while its
        department was being disabled, after the disabling event looked for pending requests."""
        code = m.directory_refusal(req, uow.departments.is_active(req.requester))
        if code is None:
            return False
        self._stop(uow, req, code)
        return True

    def _stop(self, uow, req: m.ExchangeRequest, code: str) -> None:
        """Deny REQ with CODE and tell the patient: they learn who asked and that nothing went out."""
        self._finish(uow, req, code)
        add_notification(uow, req.patient, code, f"stopped:{req.id}", self.clock(), {
            "department": req.requester, "purpose": req.purpose, "request_id": req.id})

    # --- helpers ------------------------------------------------------------------------

    def _ask(self, uow, req: m.ExchangeRequest) -> dict | None:
        """Return a fresh decision, or None after scheduling a retry (consent away) or failing."""
        try:
            return self.consent.decide(req.patient, req.requester, req.purpose, list(req.resource_types))
        except PeerUnavailable:
            attempts = req.attempts + 1
            uow.requests.change(req.id, attempts=attempts, updated_at=self.clock(),
                                next_attempt_at=self.clock() + timedelta(seconds=m.retry_delay(attempts)))
            return None
        except PeerRefused:
            self._finish(uow, req, "refused-by-consent")
            return None

    def _ask_records(self, uow, req: m.ExchangeRequest) -> None:
        uow.requests.change(req.id, attempts=req.attempts + 1,
                            next_attempt_at=self.clock() + timedelta(seconds=self.fetch_wait))
        uow.publish(FETCH_TOPIC, new_event("phr.records.fetch", SOURCE, req.patient, {
            "request_id": req.id, "patient": req.patient, "resource_types": list(req.resource_types),
            "redact_labels": list(req.redact_labels), "requester": req.requester}))

    def _append_ledger(self, uow, req: m.ExchangeRequest, decision: dict) -> tuple[int, str]:
        head = uow.ledger.head(lock=True)
        seq, prev = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
        entry = {"seq": seq, "request_id": req.id, "patient": req.patient, "recipient": req.requester,
                 "purpose": req.purpose, "resource_types": list(req.resource_types),
                 "reason": req.reason, "consent_id": decision.get("consent_id"),
                 "consent_version": decision.get("consent_version"), "basis": req.basis,
                 "break_glass_id": decision.get("break_glass_id"),
                 "redacted_labels": list(req.redact_labels), "redacted_count": req.redacted_count or 0,
                 "resource_count": req.resource_count or 0, "bundle_ref": req.bundle_ref,
                 "released_at": self.clock().isoformat()}
        digest = chain.entry_hash(entry, prev)
        uow.ledger.append(chain.Link(seq, chain.canonical(entry), prev, digest), req.id, req.patient,
                          first=head is None)
        return seq, digest

    def _finish(self, uow, req: m.ExchangeRequest, code: str, ledger_seq: int | None = None,
                ledger_hash: str | None = None) -> None:
        status, now = m.OUTCOMES[code], self.clock()
        uow.requests.change(req.id, status=status, step=m.DONE, outcome=code, ledger_seq=ledger_seq,
                            updated_at=now)
        data = {"request_id": req.id, "patient": req.patient, "requester": req.requester,
                "purpose": req.purpose}
        if status == m.FULFILLED:
            data = {**data, "consent_id": req.consent_id, "consent_version": req.consent_version,
                    "basis": req.basis or "consent", "ledger_seq": ledger_seq, "ledger_hash": ledger_hash,
                    "resource_count": req.resource_count or 0, "redacted_count": req.redacted_count or 0,
                    "redacted_labels": list(req.redact_labels)}
        else:
            data = {**data, "reason_code": code}
        uow.publish(TOPIC, new_event(f"phr.exchange.{status}", SOURCE, req.patient, data))


def connections(engine):
    """Return a factory of connections for Flow.sweep: ``factory(write=False)`` is a context
    manager giving a connection in a read-only or a write transaction."""

    @contextmanager
    def connect(write: bool = False):
        with (transaction if write else read_only)(engine) as conn:
            yield conn

    return connect


NOTIFY_TOPIC = "phr.notify.v1"


def add_notification(work, patient: str, kind: str, source_id: str, when: datetime, params: dict) -> None:
    """Store one notification for PATIENT (once per SOURCE_ID) and, in the same transaction, its
    phr.notify.added event for delivery outside the app (service_layer/delivery.py); WORK is a
    unit of work or a connection. The event carries no params: what the notice is about stays
    here, behind sign-in."""
    uow = on(work)
    notification_id = uow.notifications.add_once(patient, kind, source_id, when, params)
    if notification_id is not None:
        uow.publish(NOTIFY_TOPIC, new_event("phr.notify.added", SOURCE, patient, {
            "notification_id": notification_id, "patient": patient, "kind": kind,
            "created_at": _utc(when).isoformat()}))
