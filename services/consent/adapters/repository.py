"""Consents, break-the-glass grants and sharing requests in SQL, on the caller's connection (its transaction)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.common.prepared import PreparedSelect
from services.consent.adapters.tables import break_glass, consents, sharing_requests
from services.consent.domain import sharing
from services.consent.domain.model import (ACTIVE, BreakGlass, ClaimInForce, Consent, Party,
                                           SensitiveClaim, utc)
from services.consent.domain.sharing import Person, SharingRequest


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
                       break_glass.c.expires_at, break_glass.c.sensitive, break_glass.c.claimed_by,
                       break_glass.c.claimed_by_user)
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
                       tuple(SensitiveClaim(s["label"], s["reason"]) for s in json.loads(sensitive)),
                       claimed_by, claimed_by_user)
            for gid, patient, department, purpose, reason, created_at, expires_at, sensitive, claimed_by,
            claimed_by_user in rows]


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
        """Store G as the open claim of its patient, department and claimant; raise ClaimInForce
        when a concurrent claim of the same claimant got there first (the unique constraint)."""
        try:
            self.conn.execute(break_glass.insert().values(
                id=g.id, patient=g.patient, department=g.department, purpose=g.purpose,
                reason=g.reason, created_at=g.created_at, expires_at=g.expires_at,
                sensitive=json.dumps([s.as_dict() for s in g.sensitive]), open_claim=True,
                claimed_by=g.claimed_by, claimed_by_user=g.claimed_by_user, claimant=g.claimed_by or ""))
        except sa.exc.IntegrityError as exc:
            raise ClaimInForce(g.patient, g.department) from exc

    def open_claim(self, patient: str, department: str, claimant: str | None) -> BreakGlass | None:
        """The claim CLAIMANT (a person's sub; None: the department's client) holds open for this
        patient and department (the one a race lost to)."""
        row = self.conn.execute(_LIVE_FOR.where(break_glass.c.open_claim.is_(True),
                                                break_glass.c.claimant == (claimant or "")),
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


def _request_row(r: SharingRequest) -> dict:
    return dict(id=r.id, patient=r.patient, department=r.department,
                requested_by_sub=r.requested_by.sub, requested_by_fhir_user=r.requested_by.fhir_user,
                requested_by_role=r.requested_by.role, classes=json.dumps(list(r.classes)),
                purposes=json.dumps(list(r.purposes)), period_days=r.days, period_end=r.end,
                reason=r.reason, exchange_request=r.exchange_request, created_at=r.created_at,
                status=r.status, open_key=r.same_key if r.status == sharing.PENDING else None,
                answered_at=r.answered_at,
                answered_by_kind=r.answered_by.kind if r.answered_by else None,
                answered_by_id=r.answered_by.id if r.answered_by else None, consent_id=r.consent_id)


def _request(row) -> SharingRequest:
    return SharingRequest(
        id=row.id, patient=row.patient, department=row.department,
        requested_by=Person(row.requested_by_sub, row.requested_by_fhir_user, row.requested_by_role),
        classes=tuple(json.loads(row.classes)), purposes=tuple(json.loads(row.purposes)),
        days=row.period_days, end=utc(row.period_end), reason=row.reason,
        exchange_request=row.exchange_request, created_at=utc(row.created_at), status=row.status,
        answered_at=utc(row.answered_at),
        answered_by=Party(row.answered_by_kind, row.answered_by_id) if row.answered_by_kind else None,
        consent_id=row.consent_id)


def _lapsed(now: datetime):
    """Past its answer window, or past the end it asks for (never NULL, so NOT of it is sound)."""
    t = sharing_requests.c
    return sa.or_(t.created_at <= now - timedelta(days=sharing.ANSWER_DAYS),
                  sa.and_(t.period_end.is_not(None), t.period_end <= now))


def _status_filter(status: str | None, now: datetime):
    """The SQL condition of a request's status as of NOW (SharingRequest.status_at, for a
    department still active: the only one whose staff can list its requests)."""
    t, lapsed = sharing_requests.c, _lapsed(now)
    if status == sharing.PENDING:
        return sa.and_(t.status == sharing.PENDING, sa.not_(lapsed))
    if status == sharing.EXPIRED:
        return sa.and_(t.status == sharing.PENDING, lapsed)
    if status is not None:
        return sharing_requests.c.status == status
    return sa.true()


class SqlSharingRequestRepository:
    """Read and write sharing requests on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add(self, r: SharingRequest) -> None:
        """Store R; raise sharing.Duplicate when an equal request sent at the same moment got there
        first (the unique constraint on waiting requests)."""
        try:
            self.conn.execute(sharing_requests.insert().values(**_request_row(r)))
        except sa.exc.IntegrityError as exc:
            raise sharing.Duplicate(None) from exc

    def save(self, r: SharingRequest) -> bool:
        """Write R's answer if it was still pending; return whether it was."""
        row = _request_row(r)
        result = self.conn.execute(sharing_requests.update()
                                   .where(sharing_requests.c.id == r.id,
                                          sharing_requests.c.status == sharing.PENDING)
                                   .values(**{k: v for k, v in row.items() if k != "id"}))
        return result.rowcount == 1

    def get(self, request_id: str, lock: bool = False) -> SharingRequest | None:
        query = sa.select(sharing_requests).where(sharing_requests.c.id == request_id)
        if lock:
            query = query.with_for_update()  # PostgreSQL row lock; SQLite holds the write lock already
        row = self.conn.execute(query).first()
        return _request(row) if row else None

    def waiting(self, patient: str, department: str) -> list[SharingRequest]:
        """DEPARTMENT's requests to PATIENT still marked pending (some may have expired)."""
        rows = self.conn.execute(sa.select(sharing_requests).where(
            sharing_requests.c.patient == patient, sharing_requests.c.department == department,
            sharing_requests.c.status == sharing.PENDING))
        return [_request(r) for r in rows]

    def close_expired(self, patient: str, department: str, now: datetime) -> None:
        """Free the waiting marker of DEPARTMENT's requests to PATIENT that have lapsed (past their
        answer window or their end), so an equal request may be sent again (their status is still read as expired)."""
        self.conn.execute(sharing_requests.update().where(
            sharing_requests.c.patient == patient, sharing_requests.c.department == department,
            sharing_requests.c.open_key.is_not(None), _lapsed(now)).values(open_key=None))

    def expire_department(self, department: str) -> int:
        """Mark every request of DEPARTMENT still pending as expired for good; return how many."""
        return self.conn.execute(sharing_requests.update().where(
            sharing_requests.c.department == department, sharing_requests.c.status == sharing.PENDING)
            .values(status=sharing.EXPIRED, open_key=None)).rowcount

    def for_department(self, department: str, status: str | None, now: datetime, limit: int,
                       offset: int) -> list[SharingRequest]:
        """DEPARTMENT's requests, newest first, LIMIT from OFFSET, with STATUS as of NOW if given."""
        rows = self.conn.execute(
            sa.select(sharing_requests)
            .where(sharing_requests.c.department == department, _status_filter(status, now))
            .order_by(sharing_requests.c.created_at.desc(), sharing_requests.c.id)
            .limit(limit).offset(offset))
        return [_request(r) for r in rows]

    def for_patient(self, patient: str, since: datetime) -> list[SharingRequest]:
        """PATIENT's requests made after SINCE, newest first."""
        rows = self.conn.execute(
            sa.select(sharing_requests)
            .where(sharing_requests.c.patient == patient, sharing_requests.c.created_at > since)
            .order_by(sharing_requests.c.created_at.desc(), sharing_requests.c.id))
        return [_request(r) for r in rows]


class SqlMeasures:
    """What the consent service's human measures read (domain/measures.py), on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def open_requests(self, now: datetime) -> int:
        """How many sharing requests wait for the patient's answer at NOW."""
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(sharing_requests)
                                     .where(_status_filter(sharing.PENDING, now))).scalar() or 0)

    def answered_count(self) -> int:
        """How many sharing requests the patient answered, ever (counted by the database)."""
        t = sharing_requests.c
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(sharing_requests).where(
            t.status.in_((sharing.APPROVED, sharing.DECLINED)), t.answered_at.is_not(None))).scalar() or 0)

    def answered_since(self, since: datetime) -> list[tuple[datetime, datetime]]:
        """(asked at, answered at) of the sharing requests the patient answered since SINCE: a
        bounded set of rows for the time to answer (domain/measures.py WINDOW)."""
        t = sharing_requests.c
        rows = self.conn.execute(sa.select(t.created_at, t.answered_at).where(
            t.status.in_((sharing.APPROVED, sharing.DECLINED)), t.answered_at >= since))
        return [(utc(r.created_at), utc(r.answered_at)) for r in rows]
