"""The exchange service's tables in SQL, on the caller's connection (its transaction): requests,
the disclosure ledger, the patient's notifications, the patient index, the equity projection
and the service's copy of the directory. The only SQL of the service outside its migrations and the messaging tables."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from services.common.directory import ACTIVE
from services.exchange.adapters.tables import break_glass_reviews as BG
from services.exchange.adapters.tables import departments, equity_exchanges, equity_patients, equity_proxies
from services.exchange.adapters.tables import exchange_requests as R
from services.exchange.adapters.tables import ledger, ledger_head, notifications, patient_index
from services.exchange.domain import equity
from services.exchange.domain import ledger as chain
from services.exchange.domain.model import DENIED, FULFILLED, PENDING, ExchangeRequest, IndexedPatient, Notification
from services.exchange.domain.staff import OPEN, REVIEW_DUE, Review

_LISTS = ("resource_types", "redact_labels", "obligations")  # stored as JSON text


def _to_columns(values: dict) -> dict:
    return {k: json.dumps(v) if k in _LISTS else v for k, v in values.items()}


def _request(row) -> ExchangeRequest:
    values = dict(row._mapping)
    return ExchangeRequest(**{k: json.loads(v) if k in _LISTS else _utc(v) if isinstance(v, dt.datetime) else v
                              for k, v in values.items()})


class SqlRequests:
    """Exchange requests on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add(self, req: ExchangeRequest) -> None:
        self.conn.execute(R.insert().values(**_to_columns(req.__dict__)))

    def get(self, request_id: str, lock: bool = False) -> ExchangeRequest | None:
        """Return the request; LOCK holds its row until the transaction ends (PostgreSQL; SQLite
        holds the write lock already)."""
        query = sa.select(R).where(R.c.id == request_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _request(row) if row else None

    def change(self, request_id: str, **values) -> None:
        """Write VALUES (columns of ExchangeRequest) to the request."""
        self.conn.execute(R.update().where(R.c.id == request_id).values(**_to_columns(values)))

    def due(self, now: dt.datetime, limit: int) -> list[str]:
        """The ids of pending requests whose next try is due by NOW, the longest waiting first."""
        return [r.id for r in self.conn.execute(sa.select(R.c.id).where(
            R.c.status == PENDING, R.c.next_attempt_at <= now).order_by(R.c.next_attempt_at).limit(limit))]

    def for_requester(self, requester: str, limit: int, offset: int) -> tuple[list[ExchangeRequest], bool]:
        """Return one page of REQUESTER's requests (newest first) and whether more follow."""
        rows = self.conn.execute(sa.select(R).where(R.c.requester == requester)
                                 .order_by(R.c.created_at.desc(), R.c.id).limit(limit + 1).offset(offset)).all()
        return [_request(r) for r in rows[:limit]], len(rows) > limit

    def pending_from(self, requester: str) -> list[str]:
        """The ids of REQUESTER's pending requests, oldest first."""
        return [r.id for r in self.conn.execute(sa.select(R.c.id).where(
            R.c.status == PENDING, R.c.requester == requester).order_by(R.c.created_at, R.c.id))]


class SqlDepartments:
    """The service's copy of the directory on CONN (kept from phr.directory.v1 by the worker)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def is_active(self, department: str) -> bool:
        """Whether DEPARTMENT is registered and not disabled, as this transaction sees the copy."""
        status = self.conn.execute(sa.select(departments.c.status).where(departments.c.id == department)).scalar()
        return status == ACTIVE


class SqlLedger:
    """The disclosure ledger's entries and its head on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def head(self, lock: bool = False) -> tuple[int, str] | None:
        """Return the head (last sequence number and hash), or None before the first entry; LOCK
        holds it so that entries are appended one at a time."""
        query = sa.select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return (row.seq, row.hash) if row else None

    def append(self, link: chain.Link, request_id: str, patient: str, first: bool) -> None:
        """Store LINK and make it the head (FIRST: the ledger had no head yet)."""
        self.conn.execute(ledger.insert().values(seq=link.seq, request_id=request_id, patient=patient,
                                                 entry=link.entry_text, prev_hash=link.prev_hash, hash=link.hash))
        if first:
            self.conn.execute(ledger_head.insert().values(id=1, seq=link.seq, hash=link.hash))
        else:
            self.conn.execute(ledger_head.update().where(ledger_head.c.id == 1)
                              .values(seq=link.seq, hash=link.hash))

    def links(self, after: int = 0) -> list[chain.Link]:
        """Every entry as stored after sequence number AFTER, in sequence order."""
        rows = self.conn.execute(sa.select(ledger.c.seq, ledger.c.entry, ledger.c.prev_hash, ledger.c.hash)
                                 .where(ledger.c.seq > after).order_by(ledger.c.seq)).all()
        return [chain.Link(r.seq, r.entry, r.prev_hash, r.hash) for r in rows]

    def hash_of(self, seq: int) -> str | None:
        """The hash stored for entry SEQ, or None when there is no such entry."""
        return self.conn.execute(sa.select(ledger.c.hash).where(ledger.c.seq == seq)).scalar()

    def patient_of(self, seq: int) -> str | None:
        """The patient of entry SEQ, or None when there is no such entry."""
        return self.conn.execute(sa.select(ledger.c.patient).where(ledger.c.seq == seq)).scalar()

    def under_break_glass(self, patient: str, claim_id: str) -> list[dict]:
        """PATIENT's entries released under the break-the-glass claim CLAIM_ID, in sequence order."""
        rows = self.conn.execute(sa.select(ledger.c.entry).where(ledger.c.patient == patient)
                                 .order_by(ledger.c.seq)).all()
        entries = [json.loads(r.entry) for r in rows]
        return [e for e in entries if e.get("basis") == "break-glass" and e.get("break_glass_id") == claim_id]

    def for_custodian(self, custodian: str, patient: str | None, limit: int, before: int | None
                      ) -> tuple[list[dict], bool]:
        """Return one page of the entries of CUSTODIAN's patients (as the patient index says;
        only PATIENT's when given), newest first and below sequence number BEFORE when given (so
        a release made while someone pages does not shift the next page), each with its hash and
        the person who asked (requested_by, requested_by_user), and whether more follow."""
        query = (sa.select(ledger.c.seq, ledger.c.entry, ledger.c.hash, R.c.requested_by, R.c.requested_by_user)
                 .join(patient_index, patient_index.c.patient_id == ledger.c.patient)
                 .outerjoin(R, R.c.id == ledger.c.request_id)
                 .where(patient_index.c.custodian == custodian))
        if patient is not None:
            query = query.where(ledger.c.patient == patient)
        if before is not None:
            query = query.where(ledger.c.seq < before)
        rows = self.conn.execute(query.order_by(ledger.c.seq.desc()).limit(limit + 1)).all()
        return [{**json.loads(r.entry), "hash": r.hash, "requested_by": r.requested_by,
                 "requested_by_user": r.requested_by_user} for r in rows[:limit]], len(rows) > limit

    def for_patient(self, patient: str, limit: int, offset: int) -> tuple[list[dict], bool]:
        """Return one page of PATIENT's entries (newest first, each with its hash) and whether
        more follow."""
        rows = self.conn.execute(sa.select(ledger.c.seq, ledger.c.entry, ledger.c.hash)
                                 .where(ledger.c.patient == patient).order_by(ledger.c.seq.desc())
                                 .limit(limit + 1).offset(offset)).all()
        return [{**json.loads(r.entry), "hash": r.hash} for r in rows[:limit]], len(rows) > limit


class SqlNotifications:
    """The patient's notifications on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add_once(self, patient: str, kind: str, source_id: str, when: dt.datetime, params: dict) -> str | None:
        """Store one notification for PATIENT, unless one was stored for SOURCE_ID already; return
        the new notification's id (None when it was there before)."""
        n = notifications
        if self.conn.execute(sa.select(n.c.id).where(n.c.source_id == source_id)).first() is not None:
            return None
        notification_id = str(uuid.uuid4())
        self.conn.execute(n.insert().values(id=notification_id, patient=patient, kind=kind,
                                            params=json.dumps(params), source_id=source_id, created_at=when))
        return notification_id

    def for_patient(self, patient: str, limit: int, offset: int) -> tuple[list[Notification], bool]:
        """Return one page of PATIENT's notifications (newest first) and whether more follow."""
        n = notifications
        rows = self.conn.execute(sa.select(n).where(n.c.patient == patient)
                                 .order_by(n.c.created_at.desc(), n.c.id).limit(limit + 1).offset(offset)).all()
        return [Notification(r.id, r.patient, r.kind, json.loads(r.params), r.created_at)
                for r in rows[:limit]], len(rows) > limit


def _review(row) -> Review:
    return Review(claim_id=row.claim_id, patient=row.patient, department=row.department,
                  claimed_at=_utc(row.claimed_at), reason=row.reason, sensitive=json.loads(row.sensitive),
                  expires_at=_utc(row.expires_at), claimed_by=row.claimed_by, claimed_by_user=row.claimed_by_user,
                  outcome=row.outcome, note=row.note, reviewer=row.reviewer, reviewer_user=row.reviewer_user,
                  reviewed_at=_utc(row.reviewed_at))


class SqlBreakGlassReviews:
    """The break-the-glass review queue on CONN. A claim is seen by the privacy officers of the
    patient's custodian department, as the patient index says at read time."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add_once(self, item: Review) -> None:
        """Queue ITEM for review, unless its claim is queued already."""
        if self.conn.execute(sa.select(BG.c.claim_id).where(BG.c.claim_id == item.claim_id)).first() is None:
            self.conn.execute(BG.insert().values(
                claim_id=item.claim_id, patient=item.patient, department=item.department,
                claimed_by=item.claimed_by, claimed_by_user=item.claimed_by_user, claimed_at=item.claimed_at,
                expires_at=item.expires_at, reason=item.reason, sensitive=json.dumps(item.sensitive),
                priority=item.priority))

    def _of(self, custodian: str):
        return (sa.select(BG).join(patient_index, patient_index.c.patient_id == BG.c.patient)
                .where(patient_index.c.custodian == custodian))

    def get(self, claim_id: str, custodian: str, lock: bool = False) -> Review | None:
        """Return the item of CLAIM_ID if its patient's custodian is CUSTODIAN, else None; LOCK
        holds its row until the transaction ends."""
        query = self._of(custodian).where(BG.c.claim_id == claim_id)
        row = self.conn.execute(query.with_for_update(of=BG) if lock else query).first()
        return _review(row) if row else None

    def queue(self, custodian: str, status: str | None, limit: int, offset: int) -> tuple[list[Review], bool]:
        """One page of CUSTODIAN's items (STATUS open or reviewed, None: both) in the queue's
        order (domain/staff.py queue_key): sensitive claims first, then the oldest."""
        query = self._of(custodian)
        if status is not None:
            query = query.where(BG.c.reviewed_at.is_(None) if status == OPEN else BG.c.reviewed_at.is_not(None))
        rows = self.conn.execute(query.order_by(BG.c.priority.desc(), BG.c.claimed_at, BG.c.claim_id)
                                 .limit(limit + 1).offset(offset)).all()
        return [_review(r) for r in rows[:limit]], len(rows) > limit

    def record(self, item: Review) -> bool:
        """Store ITEM's review, once: return False when the claim was reviewed already."""
        done = self.conn.execute(BG.update().where(BG.c.claim_id == item.claim_id, BG.c.reviewed_at.is_(None))
                                 .values(outcome=item.outcome, note=item.note, reviewer=item.reviewer,
                                         reviewer_user=item.reviewer_user, reviewed_at=item.reviewed_at))
        return done.rowcount == 1


class SqlPatientIndex:
    """Who holds each patient's records (the patient index) on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def get(self, patient_id: str) -> IndexedPatient | None:
        row = self.conn.execute(sa.select(patient_index).where(patient_index.c.patient_id == patient_id)).first()
        if row is None:
            return None
        return IndexedPatient(row.patient_id, row.custodian, row.resource_count, json.loads(row.resource_types),
                              row.last_event_id, row.updated_at)

    def add(self, entry: IndexedPatient) -> None:
        self.conn.execute(patient_index.insert().values(**{**entry.__dict__,
                                                           "resource_types": json.dumps(entry.resource_types)}))

    def replace(self, entry: IndexedPatient) -> None:
        values = {**entry.__dict__, "resource_types": json.dumps(entry.resource_types)}
        del values["patient_id"]
        self.conn.execute(patient_index.update().where(patient_index.c.patient_id == entry.patient_id)
                          .values(**values))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


class SqlEquityProjection:
    """The equity report's projection on CONN: patients, caregiver grants, exchange outcomes.

    Every write is an upsert: events from three producers arrive in no order between topics,
    so a row may first appear from any of them and be completed by the others.
    """

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def _upsert(self, table: sa.Table, key: str, key_value: str, values: dict) -> None:
        column = table.c[key]
        if self.conn.execute(sa.select(column).where(column == key_value)).first() is None:
            self.conn.execute(table.insert().values({key: key_value, **values}))
        elif values:
            self.conn.execute(table.update().where(column == key_value).values(**values))

    def patient(self, patient_id: str, values: dict) -> None:
        """Set VALUES (demographics, account times) of the patient; updated_at is now."""
        self._upsert(equity_patients, "patient_id", patient_id,
                     {**values, "updated_at": dt.datetime.now(dt.timezone.utc)})

    def proxy(self, grant_id: str, values: dict) -> None:
        """Set VALUES (patient, activation, end) of a caregiver grant."""
        self._upsert(equity_proxies, "grant_id", grant_id, values)

    def exchange(self, request_id: str, values: dict) -> None:
        """Set VALUES (patient, when asked, outcome, when finished) of an exchange request."""
        self._upsert(equity_exchanges, "request_id", request_id, values)

    def load(self, now: dt.datetime, since: dt.datetime | None = None
             ) -> tuple[list[equity.Patient], list[equity.Exchange]]:
        """Return the report's patients (as they are at NOW) and the decided exchanges since SINCE."""
        P, G, X = equity_patients, equity_proxies, equity_exchanges
        in_force = sa.select(G.c.patient).where(
            G.c.activated_at.is_not(None), G.c.ended_at.is_(None), G.c.ends_at > now).distinct()
        managed = {row.patient for row in self.conn.execute(in_force)}
        patients = [equity.Patient(
            id=row.patient_id, language=row.language, birth_date=row.birth_date, sex=row.sex,
            interpreter_needed=row.interpreter_needed, proxy_managed=row.patient_id in managed,
            activated=row.activated_at is not None) for row in self.conn.execute(sa.select(P))]
        query = sa.select(X).where(X.c.outcome.in_(("fulfilled", "denied")))
        if since is not None:
            query = query.where(X.c.requested_at >= since)
        exchanges = []
        for row in self.conn.execute(query):
            requested, finished = _utc(row.requested_at), _utc(row.finished_at)
            seconds = (finished - requested).total_seconds() if requested and finished else None
            exchanges.append(equity.Exchange(row.patient, row.outcome == "fulfilled", seconds))
        return patients, exchanges


class SqlMeasures:
    """What the exchange's human measures read (domain/measures.py), on CONN: counts and sums
    computed by the database, and, for the quantiles, the durations of a bounded window only
    (a scrape never reads a whole table)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def released(self, since: dt.datetime) -> list[tuple[str, float]]:
        """(requesting department, seconds from request to release) of the requests released
        since SINCE; a request's last change is its release (service_layer/flow.py _finish)."""
        rows = self.conn.execute(sa.select(R.c.requester, R.c.created_at, R.c.updated_at)
                                 .where(R.c.status == FULFILLED, R.c.updated_at >= since))
        return [(r.requester, (_utc(r.updated_at) - _utc(r.created_at)).total_seconds()) for r in rows]

    def denial_outcomes(self, since: dt.datetime) -> dict[str | None, int]:
        """How many requests denied since SINCE had each outcome code."""
        rows = self.conn.execute(sa.select(R.c.outcome, sa.func.count()).where(
            R.c.status == DENIED, R.c.updated_at >= since).group_by(R.c.outcome))
        return {outcome: int(n) for outcome, n in rows}

    def open_claims(self, now: dt.datetime) -> list[tuple[str, int, int]]:
        """(custodian department, claims not reviewed yet, those of them overdue at NOW), per
        department; "unknown" when the patient index does not know the patient."""
        inner = (sa.select(sa.func.coalesce(patient_index.c.custodian, "unknown").label("custodian"),
                           sa.case((BG.c.claimed_at <= now - REVIEW_DUE, 1), else_=0).label("late"))
                 .select_from(BG.outerjoin(patient_index, patient_index.c.patient_id == BG.c.patient))
                 .where(BG.c.reviewed_at.is_(None))).subquery()
        rows = self.conn.execute(sa.select(inner.c.custodian, sa.func.count(), sa.func.sum(inner.c.late))
                                 .group_by(inner.c.custodian))
        return [(custodian, int(n), int(late or 0)) for custodian, n, late in rows]

    def activation(self, now: dt.datetime) -> dict[str, list[tuple[object, bool, int]]]:
        """For each equity grouping, (the patients' value it groups by, activated or not, how
        many patients) as equity.group_of reads them: the patient's language, birth date, sex,
        whether a caregiver grant is in force at NOW, whether they need an interpreter."""
        P, G = equity_patients, equity_proxies
        in_force = sa.select(G.c.patient).where(G.c.activated_at.is_not(None), G.c.ended_at.is_(None),
                                                G.c.ends_at > now)
        values = {"language": P.c.language, "age_band": P.c.birth_date, "sex": P.c.sex,
                  "proxy_managed": sa.case((P.c.patient_id.in_(in_force), 1), else_=0),
                  "interpreter_needed": P.c.interpreter_needed}
        activated = sa.case((P.c.activated_at.is_(None), 0), else_=1).label("activated")
        found: dict[str, list[tuple[object, bool, int]]] = {}
        for grouping, value in values.items():
            # Grouped over a subquery's columns: PostgreSQL would not match the parameters of
            # an expression repeated in GROUP BY.
            inner = sa.select(value.label("value"), activated).subquery()
            rows = self.conn.execute(sa.select(inner.c.value, inner.c.activated, sa.func.count())
                                     .group_by(inner.c.value, inner.c.activated))
            found[grouping] = [(bool(v) if grouping == "proxy_managed" else v, bool(a), int(n))
                               for v, a, n in rows]
        return found
