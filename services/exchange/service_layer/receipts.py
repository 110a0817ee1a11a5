"""Revocation receipts: when a consent ends (phr.consent.revoked, phr.consent.expired), tell every
department that received records under it, in its inbox and, when it registered one, by a signed
webhook; give the patient a receipt naming each department told and when.

The notices, the deliveries (with their JWS, signed once), the receipt and the
phr.exchange.departments-notified event commit in the consumer's transaction, so a repeated event
tells nobody twice. Deliveries are tried by the worker (``deliver_due``) with growing delays, each
try recorded, and given up after domain/receipts.py MAX_ATTEMPTS.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

from services.common.envelope import new_event
from services.exchange.domain import receipts as r
from services.exchange.service_layer.flow import add_notification
from services.exchange.service_layer.unit_of_work import on

from services.exchange.service_layer.flow import SOURCE, TOPIC
NOTIFIED = "phr.exchange.departments-notified"
#: How long one try holds a delivery before another worker may take it again (a worker that
#: died mid-try leaves it to the others after this).
LEASE = timedelta(seconds=30)
log = logging.getLogger(__name__)


def _when(text: str | None, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return fallback


class Receipts:
    """Notices for departments and receipts for patients; SIGNER signs webhook bodies, ISSUER
    names this service in them, CLOCK is the service's clock."""

    def __init__(self, signer, issuer: str, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.signer, self.issuer, self.clock = signer, issuer, clock

    def on_consent_ended(self, work, event: dict) -> None:
        """Tell each department that received records under the ended consent, once."""
        data, now = event["data"], self.clock()
        grantee = data.get("grantee") or {}
        if grantee.get("kind", "department") != "department":
            return  # a caregiver's access ended: no department received records under it
        uow = on(work)
        patient, consent_id = str(data["patient"]), str(data["consent_id"])
        ended_at = _when(data.get("revoked_at") or data.get("expired_at"), now)
        found = r.releases_by_department(uow.department_notices.consent_entries(patient, consent_id), consent_id)
        told = []
        for department, releases in sorted(found.items()):
            notice = r.Notice(str(uuid.uuid4()), department, patient, r.ENDED[event["type"]], consent_id,
                              data.get("version"), ended_at, releases, now)
            # a consent ends once: a second ending event (an expiry racing a revocation) tells nobody again
            if not uow.department_notices.add_once(notice, f"{consent_id}:{department}"):
                continue
            url = uow.webhooks.url(department)
            if url:
                uow.webhooks.add_delivery(notice.id, department, url,
                                          self.signer.sign(r.payload(notice, self.issuer, now)), now)
            told.append({"department": department, "notice_id": notice.id, "told_at": now.isoformat(),
                         "webhook": bool(url), "ledger_seqs": [x["ledger_seq"] for x in releases]})
        if not told:
            return
        add_notification(uow, patient, r.RECEIPTS[event["type"]], f"receipt:{event['id']}", now,
                         {"consent_id": consent_id,
                          "told": [{"department": t["department"], "told_at": t["told_at"]} for t in told]})
        uow.publish(TOPIC, new_event(NOTIFIED, SOURCE, patient, {
            "consent_id": consent_id, "patient": patient, "ended": r.ENDED[event["type"]],
            "ended_at": ended_at.isoformat(), "departments": told}))

    def deliver_due(self, connect, sender, limit: int = 20) -> int:
        """Try each due delivery once (CONNECT opens a write transaction, SENDER posts); return
        how many were tried."""
        now = self.clock()
        with connect() as conn:  # read first: an idle worker opens no write transaction
            if not on(conn).webhooks.due(now, 1):
                return 0
        with connect(write=True) as conn:
            webhooks = on(conn).webhooks
            claimed = [d for d in webhooks.due(now, limit) if webhooks.claim(d, now + LEASE)]
        for delivery in claimed:
            status_code, error = sender.send(delivery["url"], delivery["body"], delivery["notice_id"])
            attempt, at = delivery["attempts"] + 1, self.clock()
            status = r.after_attempt(attempt, error is None)
            with connect(write=True) as conn:
                on(conn).webhooks.record(delivery["id"], attempt, at, status_code, error, status,
                                         at + r.retry_delay(attempt))
            if status == r.FAILED:
                log.warning("webhook delivery %s to %s given up after %s tries", delivery["id"],
                            delivery["department"], attempt)
        return len(claimed)


def on_department_changed(conn, department) -> None:
    """Keep the webhook URL of DEPARTMENT's new directory entry (a services.common.directory.Department)."""
    on(conn).webhooks.set_url(department.id, department.webhook_url)


def notify_handlers(receipts: Receipts, base: dict) -> dict:
    """The notify consumer's routing table: BASE (service_layer/notify.py), and for an ended
    consent, the patient's notice there, then the departments' notices and the receipt here."""
    def ended(handler):
        def handle(work, event):
            handler(work, event)
            receipts.on_consent_ended(work, event)
        return handle
    return {**base, **{t: ended(base[t]) for t in r.ENDED}}
