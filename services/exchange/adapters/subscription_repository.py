"""Subscriptions and their deliveries in SQL, on the caller's connection (its transaction)."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from services.exchange.adapters.tables import subscription_deliveries as D
from services.exchange.adapters.tables import subscriptions as S
from services.exchange.domain.subscriptions import ACTIVE, OFF, Spec, Subscription, Taken


def _utc(value):
    return value.replace(tzinfo=dt.timezone.utc) if isinstance(value, dt.datetime) and value.tzinfo is None else value


def _subscription(row) -> Subscription:
    spec = Spec(row.patient, row.resource_type, row.criteria, row.endpoint, row.payload,
                tuple(json.loads(row.headers)), row.reason, row.end_at, row.purpose)
    return Subscription(row.id, row.department, spec, row.status, _utc(row.created_at), _utc(row.updated_at),
                        row.events_since_start, row.error)


class SqlSubscriptions:
    """Subscriptions and deliveries on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    # -- subscriptions ---------------------------------------------------------------------------

    def add(self, sub: Subscription) -> None:
        """Store SUB; raise Taken when a concurrent request stored a live one of the same
        department, patient, type and endpoint first (the unique index uq_subscriptions_live).
        The insert runs in a savepoint, so the transaction goes on and can read that one."""
        s = sub.spec
        try:
            with self.conn.begin_nested():
                self.conn.execute(S.insert().values(
                    id=sub.id, department=sub.department, patient=s.patient, resource_type=s.resource_type,
                    criteria=s.criteria, endpoint=s.endpoint, payload=s.payload,
                    headers=json.dumps(list(s.headers)), reason=s.reason, end_at=s.end, purpose=s.purpose,
                    status=sub.status, events_since_start=sub.events_since_start, error=sub.error,
                    created_at=sub.created_at, updated_at=sub.updated_at))
        except sa.exc.IntegrityError as exc:
            raise Taken(sub.id) from exc

    def get(self, sub_id: str, lock: bool = False) -> Subscription | None:
        query = sa.select(S).where(S.c.id == sub_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _subscription(row) if row else None

    def of_department(self, department: str, patient: str | None, limit: int) -> list[Subscription]:
        query = sa.select(S).where(S.c.department == department, S.c.status != OFF)
        if patient is not None:
            query = query.where(S.c.patient == patient)
        return [_subscription(r) for r in self.conn.execute(query.order_by(S.c.created_at.desc()).limit(limit))]

    def turn_off(self, sub_id: str, now: dt.datetime) -> None:
        """Stop SUB_ID: its pending deliveries are withheld, and it is found no more (status off)."""
        self.conn.execute(D.update().where(D.c.subscription_id == sub_id, D.c.status == "pending")
                          .values(status="withheld", outcome="subscription-off", finished_at=now))
        self.conn.execute(S.update().where(S.c.id == sub_id).values(status=OFF, updated_at=now))

    def count_of(self, department: str) -> int:
        """How many subscriptions DEPARTMENT holds that are not off."""
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(S).where(
            S.c.department == department, S.c.status != OFF)).scalar() or 0)

    def active_for(self, patient: str, resource_types: list[str]) -> list[Subscription]:
        rows = self.conn.execute(sa.select(S).where(S.c.patient == patient, S.c.status == ACTIVE,
                                                    S.c.resource_type.in_(resource_types)))
        return [_subscription(r) for r in rows]

    def find_live(self, department: str, patient: str, resource_type: str, endpoint: str) -> Subscription | None:
        """DEPARTMENT's subscription (not off) on PATIENT's RESOURCE_TYPE to ENDPOINT, if any."""
        row = self.conn.execute(sa.select(S).where(
            S.c.department == department, S.c.patient == patient, S.c.resource_type == resource_type,
            S.c.endpoint == endpoint, S.c.status != OFF)).first()
        return _subscription(row) if row else None

    def record_event(self, sub_id: str, number: int, now: dt.datetime) -> None:
        """Count notification NUMBER of SUB_ID as sent: its events_since_start and lastUpdated move
        (only here, in the transaction that records a notification sent under a permit)."""
        self.conn.execute(S.update().where(S.c.id == sub_id, S.c.events_since_start < number)
                          .values(events_since_start=number, updated_at=now))

    # -- deliveries ------------------------------------------------------------------------------

    def add_delivery(self, delivery_id: str, sub: Subscription, event_id: str, resources: list[dict],
                     now: dt.datetime) -> None:
        exists = self.conn.execute(sa.select(D.c.id).where(D.c.subscription_id == sub.id,
                                                           D.c.event_id == event_id)).first()
        if exists:
            return
        self.conn.execute(D.insert().values(
            id=delivery_id, subscription_id=sub.id, patient=sub.spec.patient, event_id=event_id,
            resources=json.dumps(resources), status="pending", attempts=0, failures=0, late_permits=0,
            next_attempt_at=now, created_at=now))

    def in_flight(self, sub_id: str, now: dt.datetime, but: str) -> bool:
        """Whether a delivery of SUB_ID other than BUT is claimed and its claim not run out."""
        return self.conn.execute(sa.select(D.c.id).where(
            D.c.subscription_id == sub_id, D.c.id != but, D.c.status == "sending",
            D.c.next_attempt_at > now).limit(1)).first() is not None

    def due(self, now: dt.datetime, limit: int) -> list[str]:
        return [r.id for r in self.conn.execute(
            sa.select(D.c.id).where(D.c.status.in_(("pending", "sending")), D.c.next_attempt_at <= now)
            .order_by(D.c.next_attempt_at).limit(limit))]

    def delivery(self, delivery_id: str, lock: bool = False):
        query = sa.select(D).where(D.c.id == delivery_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        return {**row._mapping, "resources": json.loads(row.resources),
                "next_attempt_at": _utc(row.next_attempt_at), "started_at": _utc(row.started_at),
                "created_at": _utc(row.created_at)}

    def change_delivery(self, delivery_id: str, **values) -> None:
        self.conn.execute(D.update().where(D.c.id == delivery_id).values(**values))

    def prune_deliveries(self, before: dt.datetime) -> int:
        """Delete the deliveries that ended before BEFORE (their ledger entries stay); return how many."""
        return self.conn.execute(D.delete().where(D.c.status.in_(("sent", "failed", "withheld")),
                                                  D.c.finished_at < before)).rowcount or 0

    def deliveries_of(self, sub_id: str) -> list[dict]:
        rows = self.conn.execute(sa.select(D).where(D.c.subscription_id == sub_id).order_by(D.c.created_at))
        return [{**r._mapping, "resources": json.loads(r.resources)} for r in rows]
