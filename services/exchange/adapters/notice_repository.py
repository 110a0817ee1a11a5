"""Notices outside the app in SQL, on the caller's connection: people's addresses, their choices
and the deliveries with their attempts (adapters/tables.py, migration 0013)."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from services.exchange.adapters.tables import notice_attempts as A
from services.exchange.adapters.tables import notice_choices as C
from services.exchange.adapters.tables import notice_contacts as K
from services.exchange.adapters.tables import notice_deliveries as D
from services.exchange.domain import notices as n


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _contact(row) -> n.Contact:
    return n.Contact(id=row.id, patient=row.patient, person=row.person, channel=row.channel,
                     address=row.address, language=row.language, verified_at=_utc(row.verified_at),
                     code_hash=row.code_hash, code_expires_at=_utc(row.code_expires_at),
                     code_tries=row.code_tries)


@dataclass(frozen=True)
class Delivery:
    """One notice on its way to one person by one channel."""

    id: str
    notification_id: str
    patient: str
    person: str
    kind: str
    channel: str
    contact_id: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


def _delivery(row) -> Delivery:
    values = dict(row._mapping)
    return Delivery(**{k: _utc(v) if isinstance(v, dt.datetime) else v for k, v in values.items()})


class SqlNotices:
    """Addresses, choices and deliveries on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    # addresses ------------------------------------------------------------------------------
    def contacts(self, patient: str, person: str) -> list[n.Contact]:
        rows = self.conn.execute(sa.select(K).where(K.c.patient == patient, K.c.person == person)
                                 .order_by(K.c.channel)).all()
        return [_contact(r) for r in rows]

    def contact(self, contact_id: str, lock: bool = False) -> n.Contact | None:
        query = sa.select(K).where(K.c.id == contact_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _contact(row) if row else None

    def put_contact(self, patient: str, person: str, channel: str, address: str, language: str,
                    code: str, expires_at: dt.datetime, now: dt.datetime) -> str:
        """Set PERSON's address for CHANNEL (unverified, waiting for CODE); return its id. A new
        address replaces the old one, which stops being used at once."""
        self.conn.execute(K.delete().where(K.c.patient == patient, K.c.person == person, K.c.channel == channel))
        contact_id = str(uuid.uuid4())
        self.conn.execute(K.insert().values(id=contact_id, patient=patient, person=person, channel=channel,
                                            address=address, language=language, verified_at=None,
                                            code_hash=n.code_hash(contact_id, code), code_expires_at=expires_at,
                                            code_tries=0, created_at=now))
        return contact_id

    def renew_code(self, contact_id: str, code: str, expires_at: dt.datetime) -> None:
        """Give the address a fresh CODE (its tries start again)."""
        self.conn.execute(K.update().where(K.c.id == contact_id).values(
            code_hash=n.code_hash(contact_id, code), code_expires_at=expires_at, code_tries=0))

    def count_try(self, contact_id: str) -> None:
        self.conn.execute(K.update().where(K.c.id == contact_id).values(code_tries=K.c.code_tries + 1))

    def verify(self, contact_id: str, now: dt.datetime) -> None:
        self.conn.execute(K.update().where(K.c.id == contact_id)
                          .values(verified_at=now, code_hash=None, code_expires_at=None))

    def remove_contact(self, contact_id: str) -> None:
        self.conn.execute(K.delete().where(K.c.id == contact_id))

    def forget_person(self, patient: str, person: str) -> None:
        """Drop PERSON's addresses and choices for PATIENT (their pending deliveries then die
        unsent: service_layer/delivery.py finds no address)."""
        self.conn.execute(K.delete().where(K.c.patient == patient, K.c.person == person))
        self.conn.execute(C.delete().where(C.c.patient == patient, C.c.person == person))

    # choices --------------------------------------------------------------------------------
    def choices(self, patient: str, person: str) -> dict[str, str]:
        rows = self.conn.execute(sa.select(C.c.topic, C.c.channel)
                                 .where(C.c.patient == patient, C.c.person == person)).all()
        return {r.topic: r.channel for r in rows}

    def choose(self, patient: str, person: str, choices: dict[str, str], now: dt.datetime) -> None:
        """Keep CHOICES ({topic: channel}) for PERSON, replacing what they chose before for those topics."""
        for topic, channel in choices.items():
            self.conn.execute(C.delete().where(C.c.patient == patient, C.c.person == person, C.c.topic == topic))
            self.conn.execute(C.insert().values(patient=patient, person=person, topic=topic, channel=channel,
                                                updated_at=now))

    def who_wants(self, patient: str, topic: str) -> list[tuple[str, n.Contact]]:
        """The people of PATIENT who chose an outside channel for TOPIC and have a verified
        address for it: [(channel, contact)]."""
        rows = self.conn.execute(
            sa.select(K).join(C, sa.and_(C.c.patient == K.c.patient, C.c.person == K.c.person,
                                         C.c.channel == K.c.channel))
            .where(C.c.patient == patient, C.c.topic == topic, C.c.channel.in_(n.OUTSIDE),
                   K.c.verified_at.is_not(None))
            .order_by(K.c.person, K.c.channel)).all()
        return [(r.channel, _contact(r)) for r in rows]

    # deliveries -----------------------------------------------------------------------------
    def add_delivery(self, notification_id: str, patient: str, kind: str, channel: str, contact: n.Contact,
                     now: dt.datetime) -> bool:
        """Queue one delivery (due now), unless this notice already has one for the person and
        channel; return whether one was queued."""
        exists = self.conn.execute(sa.select(D.c.id).where(
            D.c.notification_id == notification_id, D.c.person == contact.person, D.c.channel == channel)).first()
        if exists:
            return False
        self.conn.execute(D.insert().values(
            id=str(uuid.uuid4()), notification_id=notification_id, patient=patient, person=contact.person,
            kind=kind, channel=channel, contact_id=contact.id, status=n.PENDING, attempts=0,
            next_attempt_at=now, created_at=now, delivered_at=None))
        return True

    def due(self, now: dt.datetime, limit: int) -> list[str]:
        """The ids of pending deliveries due by NOW, the longest waiting first."""
        return [r.id for r in self.conn.execute(sa.select(D.c.id).where(
            D.c.status == n.PENDING, D.c.next_attempt_at <= now).order_by(D.c.next_attempt_at).limit(limit))]

    def delivery(self, delivery_id: str, lock: bool = False) -> Delivery | None:
        query = sa.select(D).where(D.c.id == delivery_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _delivery(row) if row else None

    def hold(self, delivery_id: str, until: dt.datetime) -> None:
        """Move the next try of DELIVERY to UNTIL (another sender holds it meanwhile)."""
        self.conn.execute(D.update().where(D.c.id == delivery_id).values(next_attempt_at=until))

    def record(self, delivery_id: str, attempt: int, at: dt.datetime, outcome: str, detail: str | None,
               status: str, next_attempt_at: dt.datetime | None) -> None:
        """Keep one attempt of DELIVERY and the state it leaves the delivery in."""
        self.conn.execute(A.insert().values(delivery_id=delivery_id, attempt=attempt, at=at, outcome=outcome,
                                            detail=(detail or "")[:300] or None))
        self.conn.execute(D.update().where(D.c.id == delivery_id).values(
            status=status, attempts=attempt, next_attempt_at=next_attempt_at,
            delivered_at=at if status == n.DELIVERED else None))

    def attempts(self, delivery_id: str) -> list[dict]:
        rows = self.conn.execute(sa.select(A).where(A.c.delivery_id == delivery_id).order_by(A.c.attempt)).all()
        return [{"attempt": r.attempt, "at": _utc(r.at), "outcome": r.outcome, "detail": r.detail} for r in rows]

    def for_notifications(self, notification_ids: list[str]) -> dict[str, list[Delivery]]:
        """The deliveries of each of NOTIFICATION_IDS."""
        found: dict[str, list[Delivery]] = {}
        if not notification_ids:
            return found
        rows = self.conn.execute(sa.select(D).where(D.c.notification_id.in_(notification_ids))
                                 .order_by(D.c.created_at, D.c.channel)).all()
        for row in rows:
            found.setdefault(row.notification_id, []).append(_delivery(row))
        return found
