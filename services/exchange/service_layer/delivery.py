"""Notices outside the app: who gets each one by email or text message, the messages' words, and
the tries until the server takes it.

phr.notify.added (flow.add_notification) -> ``on_notify_added`` queues one delivery per person
and channel they chose for the notice's topic (in the consumer's transaction, so once per
event) -> ``Deliverer.sweep`` sends each due delivery, keeps a row per attempt, and tries again
later with backoff; after the last try the delivery is dead and the notice goes to
``phr.notify.v1.dlq``. A message never says who or what: that stays behind sign-in.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Callable

from services.common.envelope import new_event
from services.common.i18n import N_, translate
from services.exchange.adapters.senders import Message, Refused, Retry
from services.exchange.domain import notices as n
from services.exchange.service_layer.flow import NOTIFY_TOPIC, SOURCE
from services.exchange.service_layer.unit_of_work import on

log = logging.getLogger(__name__)
DEAD_LETTERS = f"{NOTIFY_TOPIC}.dlq"
LEASE = timedelta(seconds=60)  # a try holds its delivery this long (another worker skips it)

#: What each topic's message says: (subject, sentence). No names, no kinds of record, no reasons.
WORDS = {
    "emergency": (N_("Your record was opened in an emergency"),
                  N_("Your record was opened in an emergency. Sign in to see who and why.")),
    "record-seen": (N_("Someone saw your record"),
                    N_("Someone saw your record. Sign in to see who and why.")),
    "sharing": (N_("News about who may see your record"),
                N_("There is news about who may see your record. Sign in to read it.")),
    "account": (N_("News about your requests"),
                N_("There is news about something you asked us. Sign in to read it.")),
}
#: The reviews of an emergency claim have their own words (topic "emergency").
REVIEWED = (N_("We checked an emergency visit to your record"),
            N_("We checked why your record was opened in an emergency. Sign in to read what we found."))
SIGN_IN = N_("Sign in to your health record")
WHY_YOU = N_("You get this because you chose it in Notices. You can change that there.")
CODE_SUBJECT = N_("Your code")
CODE_TEXT = N_("Your code is {code}. Type it in Notices within {minutes} minutes. "
               "If you did not ask for it, do nothing.")


def words_for(kind: str) -> tuple[str, str]:
    """The subject and sentence of a notice of KIND (message ids)."""
    if kind in ("break-glass-justified", "break-glass-not-justified"):
        return REVIEWED
    return WORDS[n.topic_of(kind)]


def compose(delivery_id: str, kind: str, channel: str, contact: n.Contact, portal_url: str) -> Message:
    """The message for one delivery in the person's language: plain text, and for email an HTML
    alternative with the same words (a heading, the sentence, a link that says where it goes)."""
    lang = contact.language
    subject, sentence = (translate(m, lang) for m in words_for(kind))
    link_text, why = translate(SIGN_IN, lang), translate(WHY_YOU, lang)
    url = f"{portal_url}/portal/notifications"
    if channel == n.SMS:
        return Message(delivery_id, contact.address, lang, subject, f"{sentence} {url}")
    text = f"{sentence}\n\n{link_text}: {url}\n\n{why}\n"
    return Message(delivery_id, contact.address, lang, subject, text, _html(lang, subject, sentence, link_text,
                                                                             url, why))


def compose_code(contact: n.Contact, code: str) -> Message:
    """The message that carries an address's verification code."""
    lang = contact.language
    subject = translate(CODE_SUBJECT, lang)
    text = translate(CODE_TEXT, lang, code=code, minutes=n.CODE_MINUTES)
    html = None
    if contact.channel == n.EMAIL:
        html = (f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head><meta charset="utf-8">'
                f"<title>{escape(subject)}</title></head>\n<body>\n<h1>{escape(subject)}</h1>\n"
                f"<p>{escape(text)}</p>\n</body>\n</html>\n")
    # Each code its own id: providers drop a message whose id (Idempotency-Key, Message-ID) they
    # saw, and a resent code replaces the old one. The id is random, never derived from the code.
    return Message(f"code-{contact.id}-{secrets.token_hex(6)}", contact.address, lang, subject, text, html)


def _html(lang: str, subject: str, sentence: str, link_text: str, url: str, why: str) -> str:
    """A small, accessible HTML part: the language named, a title, one heading, real text (no
    image), a link whose words say where it goes, and colours left to the reader's mail app."""
    return (f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(subject)}</title></head>\n<body>\n<h1>{escape(subject)}</h1>\n"
            f"<p>{escape(sentence)}</p>\n<p><a href=\"{escape(url)}\">{escape(link_text)}</a></p>\n"
            f"<p>{escape(why)}</p>\n</body>\n</html>\n")


# --- the consumer of phr.notify.v1 ------------------------------------------------------------
def on_notify_added(work, event: dict) -> None:
    """Queue a delivery for each person who chose email or text messages for this notice's topic
    and proved that address (the idempotent consumer's transaction: once per event)."""
    data, uow = event["data"], on(work)
    now = datetime.now(timezone.utc)
    for channel, contact in uow.notices.who_wants(str(data["patient"]), n.topic_of(str(data["kind"]))):
        uow.notices.add_delivery(str(data["notification_id"]), str(data["patient"]), str(data["kind"]),
                                 channel, contact, now)


def on_caregiver_ended(work, event: dict) -> None:
    """A patient stopped a caregiver: no notice reaches the caregiver any more, by any channel."""
    data = event["data"]
    if data.get("caregiver"):
        on(work).notices.forget_person(str(data["patient"]), str(data["caregiver"]))


DELIVERY_HANDLERS = {"phr.notify.added": on_notify_added, "phr.accounts.proxy-ended": on_caregiver_ended}


# --- sending ------------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Deliverer:
    """Sends due deliveries: SENDERS by channel, BACKOFF between tries, messages pointing at PORTAL_URL."""

    senders: dict
    backoff: n.Backoff = field(default_factory=n.Backoff)
    portal_url: str = ""
    clock: Callable[[], datetime] = utc_now
    on_outcome: list = field(default_factory=list)  # callbacks(channel, outcome) for metrics

    def sweep(self, units, limit: int = 20) -> int:
        """Try every due delivery once; return how many were tried. UNITS(write) gives a unit of work."""
        with units(write=False) as uow:
            due = uow.notices.due(self.clock(), limit)
        for delivery_id in due:
            self.try_one(units, delivery_id)
        return len(due)

    def try_one(self, units, delivery_id: str) -> None:
        """Claim DELIVERY_ID for one try (so no other sweeper sends it meanwhile), send it outside
        any transaction, then keep the attempt and what comes next."""
        with units(write=True) as uow:
            delivery = uow.notices.delivery(delivery_id, lock=True)
            now = self.clock()
            if delivery is None or delivery.status != n.PENDING or _utc(delivery.next_attempt_at) > now:
                return
            contact = uow.notices.contact(delivery.contact_id)
            uow.notices.hold(delivery_id, now + LEASE)
        attempt = delivery.attempts + 1
        if contact is None or not contact.verified:
            # The person removed or changed the address: nothing more to send to it.
            return self._keep(units, delivery, attempt, "failed", "the address was removed", dead=True)
        message = compose(delivery.id, delivery.kind, delivery.channel, contact, self.portal_url)
        try:
            self.senders[delivery.channel].send(message)
        except Retry as exc:
            return self._keep(units, delivery, attempt, "failed", str(exc),
                              dead=self.backoff.gives_up(attempt))
        except Refused as exc:
            return self._keep(units, delivery, attempt, "failed", str(exc), dead=True)
        self._keep(units, delivery, attempt, "delivered", None)

    def _keep(self, units, delivery, attempt: int, outcome: str, detail: str | None, dead: bool = False) -> None:
        now = self.clock()
        status = n.DELIVERED if outcome == "delivered" else n.DEAD if dead else n.PENDING
        retry_at = now + self.backoff.delay(attempt) if status == n.PENDING else None
        with units(write=True) as uow:
            uow.notices.record(delivery.id, attempt, now, outcome, detail, status, retry_at)
            if status == n.DEAD:
                uow.publish(DEAD_LETTERS, new_event("phr.notify.added", SOURCE, delivery.patient, {
                    "notification_id": delivery.notification_id, "patient": delivery.patient,
                    "kind": delivery.kind, "created_at": _utc(delivery.created_at).isoformat()}))
        if status != n.PENDING or attempt == 1:
            log.info("notice delivery %s by %s: %s after %d tries", delivery.id, delivery.channel, status, attempt)
        for callback in self.on_outcome:
            callback(delivery.channel, status)


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
