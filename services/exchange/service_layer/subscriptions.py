"""Consent-filtered subscriptions: store a department's Subscription, owe it a notification for
each import of the patient's records of its type, and send each one only on a fresh consent
decision, the same question an exchange asks (Flow._ask), with every notification started
written to the disclosure ledger.

The guarantee (docs: README "Subscriptions"): no notification starts after the patient's
revoke call returned. A delivery

1. asks consent (a permit, else nothing is sent: withheld);
2. opens a connection to the endpoint (adapters/hooks.py: DNS, host checks, TCP, TLS);
3. notes its monotonic time T, asks consent again, and gets a permit that carries
   ``start_within_ms`` (services/consent/service_layer/handlers.py, settle_revocation);
4. writes the request on the open connection only if it is still within ``start_within_ms`` of T,
   else closes it and starts again from 1.

Consent reads committed state, so the permit of step 3 was read before any revoke of its consent
committed, and after T. Consent answers a revoke only ``2 * start_within_ms`` after its commit.
So the request is written before T + start_within_ms < commit + start_within_ms < the revoke's
answer. Nothing is written between the check of step 4 and the request (no database, no look-up):
the notification's start is that write. Step 1 keeps a connection from being opened (which an
endpoint could notice) without a permit.

The ledger entry of a notification is written after it was sent (a write of the chain before it
would take the ledger's head lock across a call to the outside); a worker that died in between
left the delivery "sending": the next one to find it writes the entry with outcome "unknown"
before sending again, so the ledger may say a notification possibly went out, never miss one.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from services.common.outbound import literal_address_problem
from services.exchange.adapters.hooks import EndpointRefused
from services.exchange.adapters.peers import PeerRefused, PeerUnavailable
from services.exchange.domain import ledger as chain
from services.exchange.domain import model as m
from services.exchange.domain import subscriptions as subs
from services.exchange.service_layer.unit_of_work import on

log = logging.getLogger(__name__)
PENDING, SENDING, SENT, FAILED, WITHHELD = "pending", "sending", "sent", "failed", "withheld"
#: A delivery claimed longer ago than this is taken to have died with its worker.
CLAIM_SECONDS = 60.0
#: Subscriptions a department may hold at once (README, "Limits"), and how long a finished
#: delivery's row is kept (the ledger keeps each notification for good).
MAX_PER_DEPARTMENT = 500
KEEP_DELIVERIES = timedelta(days=30)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class NotFound(Exception):
    """No subscription of the calling department has that id."""


class TooMany(Exception):
    """The department holds MAX_PER_DEPARTMENT subscriptions already."""


class Conflict(Exception):
    """The department has a live subscription on that patient, type and endpoint that differs in
    another element (reason, headers, payload, end); its id is the argument."""


@dataclass
class Subscriptions:
    """The subscriptions' use cases and the delivery step."""

    consent: object  # .decide(patient, actor, purpose, classes) -> dict (adapters.peers.ConsentClient)
    hook: object  # .open(url) -> Opened (adapters.hooks.RestHook)
    policy: subs.HostPolicy
    base: str  # the FHIR API's public base, for the ids' full URLs
    checker: object = None
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    max_attempts: int = 6
    max_late: int = 20  # permits that came too slow to act on, before giving up

    # --- the API ----------------------------------------------------------------------------

    def create(self, work, department: str, resource: object) -> tuple[subs.Subscription, bool]:
        """Store DEPARTMENT's subscription (domain.subscriptions.Invalid for a wrong one); return it
        and whether it is new.

        It is made whether or not a consent permits now: answering differently would tell the
        department whether the patient shares with it, and nothing is sent without a permit.

        A department holds one live subscription per patient, resource type and endpoint (a
        second would only send each notification twice, to the same place). Asking again for the
        same one answers the one it holds (as a FHIR conditional create that matched: a client that
        sends its POST again after a lost answer gets its subscription, not an error); asking for
        one that differs in another element is a Conflict (delete the old one first).
        """
        spec = subs.parse(resource)
        problem = literal_address_problem(self.policy, spec.endpoint)
        if problem:
            raise subs.Invalid([("Subscription.channel.endpoint", problem, "value")])
        now, uow = self.clock(), on(work, self.checker)
        same = uow.subscriptions.find_live(department, spec.patient, spec.resource_type, spec.endpoint)
        if same is not None:
            return self._held(same, spec)
        if uow.subscriptions.count_of(department) >= MAX_PER_DEPARTMENT:
            raise TooMany(department)
        sub = subs.Subscription(str(uuid.uuid4()), department, spec, subs.ACTIVE, now, now)
        try:
            uow.subscriptions.add(sub)
        except subs.Taken:
            # The same POST sent twice at once (a client retrying before the first answered):
            # the one that lost answers as if it came second.
            same = uow.subscriptions.find_live(department, spec.patient, spec.resource_type, spec.endpoint)
            if same is None:
                raise
            return self._held(same, spec)
        return sub, True

    @staticmethod
    def _held(same: subs.Subscription, spec: subs.Spec) -> tuple[subs.Subscription, bool]:
        """The live subscription SAME when SPEC asks for exactly it; else a Conflict naming it."""
        if same.spec != spec:
            raise Conflict(same.id)
        return same, False

    def get(self, work, department: str, sub_id: str) -> subs.Subscription:
        sub = on(work, self.checker).subscriptions.get(sub_id)
        if sub is None or sub.department != department or sub.status == subs.OFF:
            raise NotFound(sub_id)
        return sub

    def search(self, work, department: str, patient: str | None, limit: int) -> list[subs.Subscription]:
        return on(work, self.checker).subscriptions.of_department(department, patient, limit)

    def delete(self, work, department: str, sub_id: str) -> None:
        uow = on(work, self.checker)
        sub = uow.subscriptions.get(sub_id, lock=True)
        if sub is None or sub.department != department or sub.status == subs.OFF:
            raise NotFound(sub_id)
        # Kept, turned off: a notification it started may still need its ledger entry to name it.
        uow.subscriptions.turn_off(sub_id, self.clock())

    # --- records' events ---------------------------------------------------------------------

    def on_imported(self, work, event: dict) -> None:
        """Owe each active subscription on the patient's records of a type this import wrote a
        delivery (once per event: the consumer's transaction, and a unique key)."""
        data = event["data"]
        resources = [r for r in data.get("resources") or [] if isinstance(r, dict)]
        if not resources:
            return  # an event from before records named what it wrote: nothing to name
        uow, now = on(work, self.checker), self.clock()
        types = sorted({str(r.get("type")) for r in resources})
        for sub in uow.subscriptions.active_for(str(data["patient"]), types):
            mine = [r for r in resources if r.get("type") == sub.spec.resource_type]
            if mine:
                uow.subscriptions.add_delivery(str(uuid.uuid4()), sub, str(event["id"]), mine, now)

    # --- deliveries --------------------------------------------------------------------------

    def deliver_due(self, units, limit: int = 20) -> int:
        """Deliver every due delivery once; UNITS(write) gives a transaction's connection."""
        with units() as work:
            due = on(work, self.checker).subscriptions.due(self.clock(), limit)
        for delivery_id in due:
            try:
                self.deliver(units, delivery_id)
            except Exception:  # one bad delivery must not stop the others
                log.exception("subscription delivery failed")
        return len(due)

    def prune(self, units) -> int:
        """Delete the rows of deliveries finished more than KEEP_DELIVERIES ago; return how many."""
        with units(write=True) as work:
            return on(work, self.checker).subscriptions.prune_deliveries(self.clock() - KEEP_DELIVERIES)

    def deliver(self, units, delivery_id: str) -> str | None:
        """Try delivery DELIVERY_ID once; return its status afterwards (None: not due)."""
        claimed = self._claim(units, delivery_id)
        if claimed is None:
            return None
        delivery, sub, number = claimed
        classes = [sub.spec.resource_type]
        try:
            first = self.consent.decide(sub.spec.patient, sub.department, sub.spec.purpose, classes)
        except (PeerUnavailable, PeerRefused) as exc:
            return self._later(units, delivery, f"consent: {type(exc).__name__}")
        if first.get("decision") != "permit" or not self._ids(sub, delivery, first):
            return self._end(units, delivery, WITHHELD, "no-consent" if first.get("decision") != "permit"
                             else "nothing-to-tell")
        try:
            opened = self.hook.open(sub.spec.endpoint)
        except EndpointRefused as exc:
            log.warning("subscription endpoint refused: %s", exc)
            return self._end(units, delivery, FAILED, "endpoint-refused")
        except OSError:
            return self._later(units, delivery, "endpoint-unreachable", count=True)
        try:
            asked = self.monotonic()
            try:
                decision = self.consent.decide(sub.spec.patient, sub.department, sub.spec.purpose, classes)
            except (PeerUnavailable, PeerRefused) as exc:
                return self._later(units, delivery, f"consent: {type(exc).__name__}")
            ids = self._ids(sub, delivery, decision)
            if decision.get("decision") != "permit" or not ids:
                return self._end(units, delivery, WITHHELD, "no-consent" if decision.get("decision") != "permit"
                                 else "nothing-to-tell")
            body, headers = self._request(sub, ids, number)
            # No statement between this check and the write below but the write itself (module doc).
            window = decision.get("start_within_ms")
            if not isinstance(window, int) or self.monotonic() - asked >= window / 1000:
                return self._late(units, delivery)
            started = self.clock()
            try:
                status = opened.send(body, headers)
            except OSError:
                status = None
        finally:
            opened.close()
        return self._sent(units, delivery, sub, decision, ids, started, status, number)

    # --- steps -------------------------------------------------------------------------------

    def _claim(self, units, delivery_id: str):
        now = self.clock()
        with units(write=True) as work:
            uow = on(work, self.checker)
            d = uow.subscriptions.delivery(delivery_id, lock=True)
            if d is None or d["status"] not in (PENDING, SENDING) or _utc(d["next_attempt_at"]) > now:
                return None
            # Locked (not written): one claim at a time per subscription, so two deliveries of it
            # never take the same event number.
            sub = uow.subscriptions.get(d["subscription_id"], lock=True)
            if d["status"] == SENDING:
                # Its worker died between claiming and recording: it may have sent (module doc).
                self._append(uow, d, sub, None, [r["id"] for r in d["resources"]], d["started_at"] or now,
                             outcome="unknown", http_status=None)
            if sub is None or sub.status != subs.ACTIVE or subs.ended(sub.spec, now):
                uow.subscriptions.change_delivery(delivery_id, status=WITHHELD, outcome="subscription-off",
                                                  finished_at=now)
                return None
            if uow.subscriptions.in_flight(sub.id, now, but=delivery_id):
                # Another delivery of it is being sent: this one waits (notifications go in order).
                uow.subscriptions.change_delivery(delivery_id, status=PENDING, next_attempt_at=now + timedelta(seconds=1))
                return None
            # The number this notification would carry. Nothing the department can read changes
            # here (its Subscription's events_since_start and lastUpdated): a claim comes before any
            # consent decision, so a change would tell a department without consent that the
            # patient got a new record, and a gap in the numbers that one was held back. The
            # number is counted in _sent, with the notification sent under a permit; a delivery
            # tried again keeps its number.
            number = d["event_number"] or sub.events_since_start + 1
            uow.subscriptions.change_delivery(delivery_id, status=SENDING, attempts=d["attempts"] + 1,
                                              next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
            d["attempts"] += 1
        return d, sub, number

    def _ids(self, sub: subs.Subscription, delivery: dict, decision: dict) -> list[str]:
        return subs.matching(sub, delivery["resources"], m.redact_labels(decision.get("obligations") or []))

    def _request(self, sub: subs.Subscription, ids: list[str], number: int) -> tuple[bytes, dict]:
        headers = {name.strip(): value.strip() for name, value in (h.split(":", 1) for h in sub.spec.headers)}
        if sub.spec.payload is None:
            return b"", {**headers, "Content-Length": "0"}
        body = json.dumps(subs.notification(sub, self.base, ids, number, self.clock()),
                          separators=(",", ":")).encode()
        return body, {**headers, "Content-Type": subs.FHIR_JSON}

    def _sent(self, units, delivery: dict, sub, decision: dict, ids: list[str], started: datetime,
              status: int | None, number: int) -> str:
        ok = status is not None and 200 <= status < 300
        with units(write=True) as work:
            uow = on(work, self.checker)
            seq = self._append(uow, delivery, sub, decision, ids, started,
                               outcome="delivered" if ok else "not-accepted", http_status=status)
            # The notification went out under a permit: now (and only now) its subscription counts
            # it, and its lastUpdated moves (_claim says why not before).
            uow.subscriptions.record_event(sub.id, number, self.clock())
            delivery["event_number"] = number
            if ok:
                uow.subscriptions.change_delivery(delivery["id"], status=SENT, outcome="delivered",
                                                  http_status=status, started_at=started, ledger_seq=seq,
                                                  finished_at=self.clock(), event_number=number)
                return SENT
            uow.subscriptions.change_delivery(delivery["id"], started_at=started, ledger_seq=seq, http_status=status,
                                              event_number=number)
        return self._later(units, delivery, "not-accepted", count=True)

    def _append(self, uow, delivery: dict, sub, decision: dict | None, ids: list[str], started: datetime,
                outcome: str, http_status: int | None) -> int:
        """Write one ledger entry for a notification that started (or may have): who, what ids,
        when, under which consent; its request_id is the attempt's own id."""
        decision = decision or {}
        labels = m.redact_labels(decision.get("obligations") or [])
        rtype = sub.spec.resource_type if sub else (delivery["resources"][0]["type"] if delivery["resources"] else "")
        head = uow.ledger.head(lock=True)
        seq, prev = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
        attempt = str(uuid.uuid4())
        entry = {"seq": seq, "request_id": attempt, "patient": delivery["patient"],
                 "recipient": sub.department if sub else None, "purpose": sub.spec.purpose if sub else "TREAT",
                 "resource_types": [rtype], "reason": sub.spec.reason if sub else None,
                 "consent_id": decision.get("consent_id"), "consent_version": decision.get("consent_version"),
                 "basis": "consent", "break_glass_id": None, "redacted_labels": labels,
                 "redacted_count": len(delivery["resources"]) - len(ids), "resource_count": len(ids),
                 "bundle_ref": None, "released_at": _utc(started).isoformat(), "channel": "subscription",
                 "subscription_id": delivery["subscription_id"], "delivery_id": delivery["id"],
                 "resources": [f"{rtype}/{i}" for i in ids], "outcome": outcome, "http_status": http_status}
        digest = chain.entry_hash(entry, prev)
        uow.ledger.append(chain.Link(seq, chain.canonical(entry), prev, digest), attempt, delivery["patient"],
                          first=head is None)
        return seq

    def _later(self, units, delivery: dict, why: str, count: bool = False) -> str:
        """Try again after a backoff; COUNT: the endpoint failed, which counts against max_attempts
        (a consent outage does not: it says nothing of the endpoint)."""
        failures = delivery["failures"] + (1 if count else 0)
        if count and failures >= self.max_attempts:
            return self._end(units, delivery, FAILED, why, failures=failures)
        delay = m.retry_delay(failures) if count else 1.0
        with units(write=True) as work:
            on(work, self.checker).subscriptions.change_delivery(
                delivery["id"], status=PENDING, outcome=why, failures=failures,
                next_attempt_at=self.clock() + timedelta(seconds=delay))
        return PENDING

    def _late(self, units, delivery: dict) -> str:
        """The permit came too slowly to act on: ask again at once (counted apart from the
        endpoint's failures), up to max_late times."""
        late = delivery["late_permits"] + 1
        if late >= self.max_late:
            return self._end(units, delivery, FAILED, "consent-too-slow", late_permits=late)
        with units(write=True) as work:
            on(work, self.checker).subscriptions.change_delivery(
                delivery["id"], status=PENDING, outcome="permit-too-late", late_permits=late,
                next_attempt_at=self.clock())
        return PENDING

    def _end(self, units, delivery: dict, status: str, outcome: str, **counts) -> str:
        with units(write=True) as work:
            on(work, self.checker).subscriptions.change_delivery(delivery["id"], status=status, outcome=outcome,
                                                                 finished_at=self.clock(), **counts)
        return status


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

