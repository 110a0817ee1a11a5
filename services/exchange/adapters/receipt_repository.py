"""Revocation receipts in SQL, on the caller's connection: the departments' notices, the webhook
deliveries with one row per try, and each department's webhook URL."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from services.exchange.adapters.tables import department_notices as N
from services.exchange.adapters.tables import department_webhooks as H
from services.exchange.adapters.tables import ledger
from services.exchange.adapters.tables import webhook_attempts as A
from services.exchange.adapters.tables import webhook_deliveries as D
from services.exchange.domain.receipts import PENDING, Notice


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)  # SQLite gives naive datetimes back
    return value


def _notice(row) -> Notice:
    return Notice(row.id, row.department, row.patient, row.kind, row.consent_id, row.consent_version,
                  _utc(row.ended_at), json.loads(row.releases), _utc(row.created_at))


class SqlNotices:
    """Departments' notices on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def consent_entries(self, patient: str, consent_id: str) -> list[dict]:
        """PATIENT's ledger entries made on CONSENT_ID (the releases it covered), picked by the
        database: the consent id is inside each entry's canonical JSON, and a patient's ledger
        grows with every release, so it is not read whole each time a consent ends."""
        if self.conn.dialect.name == "postgresql":
            entry = sa.cast(ledger.c.entry, postgresql.JSONB)
        else:  # SQLite's JSON functions read the text as it is stored (a CAST would make it a number)
            entry = sa.type_coerce(ledger.c.entry, sa.JSON)
        rows = self.conn.execute(sa.select(ledger.c.entry).where(
            ledger.c.patient == patient, entry["consent_id"].as_string() == consent_id)).all()
        return [json.loads(r.entry) for r in rows]

    def add_once(self, notice: Notice, source_id: str) -> bool:
        """Store NOTICE unless one was stored for SOURCE_ID; return whether this stored it."""
        if self.conn.execute(sa.select(N.c.id).where(N.c.source_id == source_id)).first() is not None:
            return False
        self.conn.execute(N.insert().values(
            id=notice.id, department=notice.department, patient=notice.patient, kind=notice.kind,
            consent_id=notice.consent_id, consent_version=notice.consent_version, ended_at=notice.ended_at,
            releases=json.dumps(notice.releases), source_id=source_id, created_at=notice.created_at))
        return True

    def for_department(self, department: str, limit: int, offset: int) -> tuple[list[Notice], bool]:
        """One page of DEPARTMENT's notices, newest first, and whether more follow."""
        rows = self.conn.execute(sa.select(N).where(N.c.department == department)
                                 .order_by(N.c.created_at.desc(), N.c.id).limit(limit + 1).offset(offset)).all()
        return [_notice(r) for r in rows[:limit]], len(rows) > limit

    def get(self, notice_id: str, department: str) -> Notice | None:
        """DEPARTMENT's notice NOTICE_ID, or None (another department's is not found)."""
        row = self.conn.execute(sa.select(N).where(N.c.id == notice_id, N.c.department == department)).first()
        return _notice(row) if row else None


class SqlWebhooks:
    """Departments' webhook URLs and the deliveries to them on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def url(self, department: str) -> str | None:
        return self.conn.execute(sa.select(H.c.url).where(H.c.department == department)).scalar()

    def set_url(self, department: str, url: str | None) -> None:
        """Keep DEPARTMENT's webhook URL (None: it has none any more)."""
        self.conn.execute(H.delete().where(H.c.department == department))
        if url:
            self.conn.execute(H.insert().values(department=department, url=url))

    def add_delivery(self, notice_id: str, department: str, url: str, body: str, now: dt.datetime) -> None:
        self.conn.execute(D.insert().values(id=str(uuid.uuid4()), notice_id=notice_id, department=department,
                                            url=url, body=body, status=PENDING, attempts=0,
                                            next_attempt_at=now, created_at=now))

    def due(self, now: dt.datetime, limit: int) -> list[dict]:
        """Pending deliveries whose next try is due by NOW, the longest waiting first."""
        rows = self.conn.execute(sa.select(D).where(D.c.status == PENDING, D.c.next_attempt_at <= now)
                                 .order_by(D.c.next_attempt_at).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def claim(self, delivery: dict, until: dt.datetime) -> bool:
        """Take DELIVERY for one try, so that no other worker sends it meanwhile: move its next
        try to UNTIL, only if nobody moved it since it was read; return whether this did."""
        done = self.conn.execute(D.update().where(D.c.id == delivery["id"], D.c.status == PENDING,
                                                  D.c.attempts == delivery["attempts"],
                                                  D.c.next_attempt_at == delivery["next_attempt_at"])
                                 .values(next_attempt_at=until))
        return done.rowcount == 1

    def record(self, delivery_id: str, attempt: int, at: dt.datetime, status_code: int | None,
               error: str | None, status: str, next_attempt_at: dt.datetime) -> None:
        """Keep one try and the delivery's state after it."""
        self.conn.execute(A.insert().values(delivery_id=delivery_id, attempt=attempt, at=at,
                                            status_code=status_code, error=(error or None) and error[:200]))
        self.conn.execute(D.update().where(D.c.id == delivery_id).values(
            status=status, attempts=attempt, next_attempt_at=next_attempt_at,
            delivered_at=at if status == "delivered" else None))

    def for_notices(self, notice_ids: list[str]) -> dict[str, dict]:
        """notice id -> its delivery {status, attempts, delivered_at} (notices without one are absent)."""
        if not notice_ids:
            return {}
        rows = self.conn.execute(sa.select(D.c.notice_id, D.c.status, D.c.attempts, D.c.delivered_at)
                                 .where(D.c.notice_id.in_(notice_ids))).all()
        return {r.notice_id: {"status": r.status, "attempts": r.attempts, "delivered_at": _utc(r.delivered_at)}
                for r in rows}

    def attempts(self, notice_id: str) -> list[dict]:
        """The tries of NOTICE_ID's delivery, in order."""
        rows = self.conn.execute(sa.select(A).join(D, D.c.id == A.c.delivery_id)
                                 .where(D.c.notice_id == notice_id).order_by(A.c.attempt)).mappings().all()
        return [{**dict(r), "at": _utc(r["at"])} for r in rows]
