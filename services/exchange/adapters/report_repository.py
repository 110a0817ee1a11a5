"""Reports, the staff counts an anonymous report needs, and whose each correction request is, in
SQL on the caller's connection (its transaction)."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from services.exchange.adapters.tables import correction_requests as CR
from services.exchange.adapters.tables import reports as T
from services.exchange.adapters.tables import staff_members as S
from services.exchange.domain.reports import ANONYMOUS, CLOSED, HARD_WORDS, Report

_FIELDS = ("id", "reference", "kind", "text", "reporter_kind", "language", "department", "patient", "acting",
           "staff", "staff_user", "staff_department", "status", "note", "assignee", "assignee_user", "version")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _report(row) -> Report:
    m = row._mapping
    return Report(**{k: m[k] for k in _FIELDS}, about=json.loads(m["about"]), links=json.loads(m["links"]),
                  received_at=_utc(m["received_at"]), acknowledged_at=_utc(m["acknowledged_at"]),
                  closed_at=_utc(m["closed_at"]), updated_at=_utc(m["updated_at"]))


def _columns(report: Report) -> dict:
    values = {k: getattr(report, k) for k in _FIELDS}
    return {**values, "about": json.dumps(report.about), "links": json.dumps(report.links),
            "correction_request": report.links.get("correction_request"), "received_at": report.received_at,
            "acknowledged_at": report.acknowledged_at, "closed_at": report.closed_at,
            "updated_at": report.updated_at or report.received_at}


class SqlReports:
    """The reports on CONN."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add(self, report: Report) -> None:
        self.conn.execute(T.insert().values(**_columns(report)))

    def get(self, report_id: str, lock: bool = False) -> Report | None:
        query = sa.select(T).where(T.c.id == report_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _report(row) if row else None

    def by_reference(self, reference: str) -> Report | None:
        row = self.conn.execute(sa.select(T).where(T.c.reference == reference)).first()
        return _report(row) if row else None

    def replace(self, before: Report, after: Report) -> bool:
        """Store AFTER if the row is still at BEFORE's version (False: someone changed it first)."""
        done = self.conn.execute(T.update().where(T.c.id == before.id, T.c.version == before.version)
                                 .values(**_columns(after)))
        return done.rowcount == 1

    def _page(self, query, limit: int, offset: int) -> tuple[list[Report], bool]:
        rows = self.conn.execute(query.limit(limit + 1).offset(offset)).all()
        return [_report(r) for r in rows[:limit]], len(rows) > limit

    def of_patient(self, patient: str, limit: int, offset: int) -> tuple[list[Report], bool]:
        """A patient's own reports (theirs or their caregiver's), newest first."""
        return self._page(sa.select(T).where(T.c.patient == patient)
                          .order_by(T.c.received_at.desc(), T.c.id), limit, offset)

    def of_staff(self, staff: str, limit: int, offset: int) -> tuple[list[Report], bool]:
        """A named member of staff's own reports, newest first."""
        return self._page(sa.select(T).where(T.c.staff == staff, T.c.reporter_kind == "staff")
                          .order_by(T.c.received_at.desc(), T.c.id), limit, offset)

    def queue(self, department: str, kind: str | None, status: str | None, limit: int, offset: int
              ) -> tuple[list[Report], bool]:
        """One page of DEPARTMENT's quality queue (and the anonymous reports no department is shown
        for): open ones first, then the oldest (domain/reports.py queue_key)."""
        unplaced = sa.and_(T.c.department.is_(None), T.c.reporter_kind == ANONYMOUS)
        query = sa.select(T).where(sa.or_(T.c.department == department, unplaced))
        if kind is not None:
            query = query.where(T.c.kind == kind)
        if status is not None:
            query = query.where(T.c.status == status)
        closed = sa.case((T.c.status == CLOSED, 1), else_=0)
        return self._page(query.order_by(closed, T.c.received_at, T.c.id), limit, offset)

    def route_waiting(self, patient: str, custodian: str) -> None:
        """Send PATIENT's reports that wait for a custodian to CUSTODIAN's quality staff."""
        self.conn.execute(T.update().where(T.c.patient == patient, T.c.department.is_(None))
                          .values(department=custodian))

    def linked_to(self, task: str) -> list[Report]:
        """The open reports linked to the correction request TASK (Task/<id>)."""
        rows = self.conn.execute(sa.select(T).where(T.c.correction_request == task, T.c.status != CLOSED)
                                 .with_for_update()).all()
        return [_report(r) for r in rows]

    def hard_words(self, department: str | None) -> list[tuple[str, dict]]:
        """(language, about) of every "hard to understand" report DEPARTMENT's quality staff see
        (the queue's rule); of every one when DEPARTMENT is None (the wording review's command)."""
        query = sa.select(T.c.language, T.c.about).where(T.c.kind == HARD_WORDS)
        if department is not None:
            unplaced = sa.and_(T.c.department.is_(None), T.c.reporter_kind == ANONYMOUS)
            query = query.where(sa.or_(T.c.department == department, unplaced))
        return [(r.language, json.loads(r.about)) for r in self.conn.execute(query)]

    def open_by_kind(self) -> dict[str, int]:
        rows = self.conn.execute(sa.select(T.c.kind, sa.func.count()).where(T.c.status != CLOSED)
                                 .group_by(T.c.kind)).all()
        return {kind: int(n) for kind, n in rows}

    def times(self, since: dt.datetime) -> list[tuple[dt.datetime, dt.datetime | None, dt.datetime | None, bool]]:
        """(received, acknowledged, closed, whether received is a day only) of the reports received
        since SINCE, and of those not answered yet, however old: an anonymous report keeps only the
        day it came (domain/reports.py received_time)."""
        rows = self.conn.execute(sa.select(T.c.received_at, T.c.acknowledged_at, T.c.closed_at,
                                           T.c.reporter_kind).where(
            sa.or_(T.c.received_at >= since, T.c.acknowledged_at.is_(None)))).all()
        return [(_utc(a), _utc(b), _utc(c), kind == ANONYMOUS) for a, b, c, kind in rows]


class SqlStaffCounts:
    """How many staff each department has now, and each one's roles (from the gateway's account
    events)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def joined(self, staff_id: str, department: str, roles: list[str] | None = None) -> None:
        values = {"department": department, "active": True, "roles": json.dumps(sorted(roles or []))}
        if self.conn.execute(S.update().where(S.c.staff_id == staff_id).values(**values)).rowcount == 0:
            self.conn.execute(S.insert().values(staff_id=staff_id, **values))

    def roles_changed(self, staff_id: str, department: str, roles: list[str]) -> None:
        """Keep STAFF_ID's new ROLES (a person not heard of yet is kept inactive: their activation
        event says when they may sign in)."""
        text = json.dumps(sorted(roles))
        if self.conn.execute(S.update().where(S.c.staff_id == staff_id).values(roles=text)).rowcount == 0:
            self.conn.execute(S.insert().values(staff_id=staff_id, department=department, active=False, roles=text))

    def left(self, staff_id: str, department: str) -> None:
        if self.conn.execute(S.update().where(S.c.staff_id == staff_id).values(active=False)).rowcount == 0:
            self.conn.execute(S.insert().values(staff_id=staff_id, department=department, active=False))

    def count(self, department: str) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(S)
                                     .where(S.c.department == department, S.c.active.is_(True))).scalar() or 0)

    def has_role(self, staff_id: str, department: str, role: str) -> bool:
        """Whether STAFF_ID is an active member of DEPARTMENT with ROLE, as the exchange last heard."""
        row = self.conn.execute(sa.select(S.c.roles).where(
            S.c.staff_id == staff_id, S.c.department == department, S.c.active.is_(True))).first()
        return row is not None and role in json.loads(row.roles)


class SqlCorrectionRequests:
    """Whose each correction request is (from records' phr.records.amendment-requested)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def add_once(self, task: str, patient: str, custodian: str) -> None:
        if self.conn.execute(sa.select(CR.c.task).where(CR.c.task == task)).first() is None:
            self.conn.execute(CR.insert().values(task=task, patient=patient, custodian=custodian))

    def get(self, task: str) -> tuple[str, str] | None:
        """(patient, custodian) of TASK, or None when the exchange has not heard of it."""
        row = self.conn.execute(sa.select(CR.c.patient, CR.c.custodian).where(CR.c.task == task)).first()
        return (row.patient, row.custodian) if row else None
