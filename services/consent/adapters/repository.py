"""Consents and break-the-glass grants in SQL, on the caller's connection (its transaction)."""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from services.common.prepared import PreparedSelect
from services.consent.adapters.tables import break_glass, consents
from services.consent.domain.model import (ACTIVE, BreakGlass, ClaimInForce, Consent, Party,
                                           SensitiveClaim, utc)


def _to_row(c: Consent) -> dict:
    return dict(id=c.id, patient=c.patient, grantee_kind=c.grantee.kind, grantee_id=c.grantee.id,
                purposes=json.dumps(list(c.purposes)), classes=json.dumps(list(c.classes)),
                period_start=c.start, period_end=c.end, status=c.status, version=c.version,
                notify=c.notify, created_at=c.created_at, created_by_kind=c.created_by.kind,
                created_by_id=c.created_by.id, revoked_at=c.revoked_at,
                revoked_by_kind=c.revoked_by.kind if c.revoked_by else None,
                revoked_by_id=c.revoked_by.id if c.revoked_by else None,
                expired_at=c.expired_at, language=c.language, text=c.text,
                text_sha256=c.text_sha256)


def _from_row(r) -> Consent:
    return Consent(id=r.id, patient=r.patient, grantee=Party(r.grantee_kind, r.grantee_id),
                   purposes=tuple(json.loads(r.purposes)), classes=tuple(json.loads(r.classes)),
                   start=utc(r.period_start), end=utc(r.period_end),
                   created_by=Party(r.created_by_kind, r.created_by_id), created_at=utc(r.created_at),
                   language=r.language, text=r.text, text_sha256=r.text_sha256,
                   notify=bool(r.notify), status=r.status, version=r.version,
                   revoked_at=utc(r.revoked_at),
                   revoked_by=Party(r.revoked_by_kind, r.revoked_by_id) if r.revoked_by_kind else None,
                   expired_at=utc(r.expired_at))


# The decision path's query, built once: only what a decision needs, no consent text.
_DECISION_COLUMNS = (consents.c.id, consents.c.grantee_id, consents.c.purposes, consents.c.classes,
                     consents.c.period_start, consents.c.period_end, consents.c.status,
                     consents.c.version, consents.c.notify, consents.c.created_at)
_ACTIVE_FOR = (sa.select(*_DECISION_COLUMNS)
               .where(consents.c.patient == sa.bindparam("patient"),
                      consents.c.grantee_kind == "department",
                      consents.c.grantee_id == sa.bindparam("department"),
                      consents.c.status == ACTIVE))
_NOBODY = Party("patient", "")


_LIVE_FOR = (sa.select(break_glass.c.id, break_glass.c.patient, break_glass.c.department,
                       break_glass.c.purpose, break_glass.c.reason, break_glass.c.created_at,
                       break_glass.c.expires_at, break_glass.c.sensitive)
             .where(break_glass.c.patient == sa.bindparam("patient"),
                    break_glass.c.department == sa.bindparam("department")))


def _for_decision(patient: str, row) -> Consent:
    """Build a consent from a row of _DECISION_COLUMNS (a SQLAlchemy Row or a plain tuple)."""
    cid, grantee_id, purposes, classes, start, end, status, version, notify, created_at = row
    return Consent(id=cid, patient=patient, grantee=Party("department", grantee_id),
                   purposes=tuple(json.loads(purposes)), classes=tuple(json.loads(classes)),
                   start=utc(start), end=utc(end), created_by=_NOBODY,
                   created_at=utc(created_at), language="", text="", text_sha256="",
                   notify=bool(notify), status=status, version=version)


def _grants(*rows) -> list[BreakGlass]:
    return [BreakGlass(gid, patient, department, purpose, reason, utc(created_at), utc(expires_at),
                       tuple(SensitiveClaim(s["label"], s["reason"]) for s in json.loads(sensitive)))
            for gid, patient, department, purpose, reason, created_at, expires_at, sensitive in rows]


def _grants_in_force(rows, now: datetime) -> list[BreakGlass]:
    return [g for g in _grants(*rows) if g.in_force(now)]


class SqlConsentRepository:
    """Read and write consents on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add(self, consent: Consent) -> None:
        self.conn.execute(consents.insert().values(**_to_row(consent)))

    def save(self, consent: Consent, expected_version: int) -> bool:
        """Write CONSENT if nobody changed it since EXPECTED_VERSION; return whether it did."""
        row = _to_row(consent)
        result = self.conn.execute(consents.update()
                                   .where(consents.c.id == consent.id,
                                          consents.c.version == expected_version)
                                   .values(**{k: v for k, v in row.items() if k != "id"}))
        return result.rowcount == 1

    def get(self, consent_id: str, lock: bool = False) -> Consent | None:
        query = sa.select(consents).where(consents.c.id == consent_id)
        if lock:
            query = query.with_for_update()  # PostgreSQL row lock; SQLite holds the write lock already
        row = self.conn.execute(query).first()
        return _from_row(row) if row else None

    def for_patient(self, patient: str) -> list[Consent]:
        rows = self.conn.execute(sa.select(consents).where(consents.c.patient == patient)
                                 .order_by(consents.c.created_at.desc(), consents.c.id))
        return [_from_row(r) for r in rows]

    def for_department(self, patient: str, department: str) -> list[Consent]:
        rows = self.conn.execute(sa.select(consents).where(
            consents.c.patient == patient, consents.c.grantee_kind == "department",
            consents.c.grantee_id == department).order_by(consents.c.created_at.desc()))
        return [_from_row(r) for r in rows]

    def active_for(self, patient: str, department: str) -> list[Consent]:
        """The patient's consents that name DEPARTMENT and are still marked active.

        Loaded for a decision only: without the consent text and who made it.
        """
        rows = self.conn.execute(_ACTIVE_FOR, {"patient": patient, "department": department})
        return [_for_decision(patient, r) for r in rows]

    def active_with_end(self) -> list[Consent]:
        """Every active consent that has an end date (the expiry sweep filters by time)."""
        rows = self.conn.execute(sa.select(consents).where(consents.c.status == ACTIVE,
                                                           consents.c.period_end.is_not(None)))
        return [_from_row(r) for r in rows]


class SqlBreakGlassRepository:
    """Read and write break-the-glass grants on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add(self, g: BreakGlass) -> None:
        """Store G as the open claim of its patient and department; raise ClaimInForce when a
        concurrent claim got there first (the unique constraint on open claims)."""
        try:
            self.conn.execute(break_glass.insert().values(
                id=g.id, patient=g.patient, department=g.department, purpose=g.purpose,
                reason=g.reason, created_at=g.created_at, expires_at=g.expires_at,
                sensitive=json.dumps([s.as_dict() for s in g.sensitive]), open_claim=True))
        except sa.exc.IntegrityError as exc:
            raise ClaimInForce(g.patient, g.department) from exc

    def open_claim(self, patient: str, department: str) -> BreakGlass | None:
        """The claim marked open for this patient and department (the one a race lost to)."""
        row = self.conn.execute(_LIVE_FOR.where(break_glass.c.open_claim.is_(True)),
                                {"patient": patient, "department": department}).first()
        return _grants(row)[0] if row else None

    def close_ended(self, patient: str, department: str, now: datetime) -> None:
        """Clear the open marker of this patient's and department's claims that have ended."""
        self.conn.execute(break_glass.update().where(
            break_glass.c.patient == patient, break_glass.c.department == department,
            break_glass.c.open_claim.is_not(None), break_glass.c.expires_at <= now).values(open_claim=None))

    def live_for(self, patient: str, department: str, now: datetime) -> list[BreakGlass]:
        return _grants_in_force(self.conn.execute(_LIVE_FOR, {"patient": patient, "department": department}),
                                now)


class DecisionReads:
    """The reads a decision makes, compiled once for DIALECT and run on a raw DBAPI cursor."""

    def __init__(self, dialect):
        self._active = PreparedSelect(_ACTIVE_FOR, dialect)
        self._live = PreparedSelect(_LIVE_FOR, dialect)

    def active_for(self, cursor, patient: str, department: str) -> list[Consent]:
        """The same consents as SqlConsentRepository.active_for."""
        return [_for_decision(patient, r)
                for r in self._active.rows(cursor, patient=patient, department=department)]

    def live_for(self, cursor, patient: str, department: str, now: datetime) -> list[BreakGlass]:
        """The same grants as SqlBreakGlassRepository.live_for."""
        return _grants_in_force(self._live.rows(cursor, patient=patient, department=department), now)
