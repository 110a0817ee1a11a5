"""A person's choices of how notices reach them, and their addresses: the handlers behind
/patient/v1/notification-preferences. Each takes a unit of work and returns plain data."""
from __future__ import annotations

from datetime import datetime, timedelta

from services.exchange.domain import notices as n


class NotYours(Exception):
    """No such address for this person."""


class TooSoon(Exception):
    """A code went to this address less than a minute ago."""


class Invalid(Exception):
    """The input breaks a rule; FIELDS names where, REASON says which rule (a message key)."""

    def __init__(self, reason: str, fields: list[str]):
        super().__init__(reason)
        self.reason, self.fields = reason, fields


def preferences(uow, patient: str, person: str) -> tuple[dict[str, str], list[n.Contact]]:
    """PERSON's channel for every topic (in-app when they chose nothing) and their addresses."""
    chosen = uow.notices.choices(patient, person)
    return ({topic: chosen.get(topic, n.DEFAULT_CHOICE) for topic in n.TOPICS},
            uow.notices.contacts(patient, person))


def choose(uow, patient: str, person: str, choices: dict[str, str], now: datetime) -> None:
    """Keep CHOICES ({topic: channel}); email or sms needs a confirmed address of that kind."""
    bad = [topic for topic, channel in choices.items() if not n.valid_choice(topic, channel)]
    if bad:
        raise Invalid("choice", bad)
    confirmed = {c.channel for c in uow.notices.contacts(patient, person) if c.verified}
    missing = [topic for topic, channel in choices.items() if channel in n.OUTSIDE and channel not in confirmed]
    if missing:
        raise Invalid("no-address", missing)
    uow.notices.choose(patient, person, choices, now)


def add_address(uow, patient: str, person: str, channel: str, address: str, language: str,
                now: datetime) -> tuple[n.Contact, str]:
    """Keep ADDRESS as PERSON's (not confirmed) address for CHANNEL; return it and the code to send.
    Topics sent by CHANNEL go back to in-app only until the new address is confirmed."""
    address = n.normalise(channel, address)
    if not n.valid_address(channel, address):
        raise Invalid("address", ["address"])
    if any(c.channel == channel and c.code_sent_lately(now) for c in uow.notices.contacts(patient, person)):
        raise TooSoon(channel)
    code = n.new_code()
    contact_id = uow.notices.put_contact(patient, person, channel, address, language, code,
                                         now + timedelta(minutes=n.CODE_MINUTES), now)
    _back_to_app(uow, patient, person, channel, now)
    return uow.notices.contact(contact_id), code


def new_code(uow, patient: str, person: str, contact_id: str, now: datetime) -> tuple[n.Contact, str]:
    """A fresh code for an address not yet confirmed (the old code stops working)."""
    contact = _mine(uow, patient, person, contact_id, lock=True)
    if contact.verified:
        return contact, ""
    if contact.code_sent_lately(now):
        raise TooSoon(contact.id)
    code = n.new_code()
    uow.notices.renew_code(contact.id, code, now + timedelta(minutes=n.CODE_MINUTES))
    return uow.notices.contact(contact.id), code


def verify(uow, patient: str, person: str, contact_id: str, code: str, now: datetime) -> n.Contact | None:
    """Confirm the address with CODE and return it; a wrong or late code counts as a try
    (CODE_TRIES at most) and returns None, so that the caller commits the count."""
    contact = _mine(uow, patient, person, contact_id, lock=True)
    if contact.verified:
        return contact
    if not contact.code_matches(code, now):
        uow.notices.count_try(contact.id)
        return None
    uow.notices.verify(contact.id, now)
    return uow.notices.contact(contact.id)


def remove_address(uow, patient: str, person: str, contact_id: str, now: datetime) -> None:
    """Forget the address; topics sent to it go back to in-app only."""
    contact = _mine(uow, patient, person, contact_id, lock=True)
    uow.notices.remove_contact(contact.id)
    _back_to_app(uow, patient, person, contact.channel, now)


def _back_to_app(uow, patient: str, person: str, channel: str, now: datetime) -> None:
    chosen = uow.notices.choices(patient, person)
    uow.notices.choose(patient, person, {t: n.IN_APP for t, c in chosen.items() if c == channel}, now)


def _mine(uow, patient: str, person: str, contact_id: str, lock: bool = False) -> n.Contact:
    contact = uow.notices.contact(contact_id, lock=lock)
    if contact is None or contact.patient != patient or contact.person != person:
        raise NotYours(contact_id)
    return contact
