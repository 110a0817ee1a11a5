"""SQL reads of one patient's compartment for the patient-facing views (SQLAlchemy Core)."""
from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from services.common.prepared import PreparedSelect
from services.records.adapters.repository import StoredResource
from services.records.adapters.tables import compartment_stamps, resources

_COLUMNS = (resources.c.resource_type, resources.c.id, resources.c.version_id,
            resources.c.last_updated, resources.c.patient_id, resources.c.custodian,
            resources.c.content)


def _stored(row) -> StoredResource:
    return StoredResource(row.resource_type, row.id, row.version_id, row.last_updated,
                          row.patient_id, row.custodian, text=row.content)


def _compartment(patient_id: str, types: tuple[str, ...]):
    return sa.and_(resources.c.patient_id == patient_id, resources.c.resource_type.in_(types))


def stamp(conn: sa.Connection, patient_id: str) -> tuple:
    """Return what changes whenever a listed resource of PATIENT_ID's compartment is added,
    replaced or deleted: its row of compartment_stamps (repository.touch_compartments), one
    primary-key read however big the compartment; ("", 0) before its first change.

    Asked on every page a patient opens, so it runs prepared on the unit of work's own DBAPI
    cursor, in its transaction (services.common.prepared).
    """
    cursor = conn.connection.cursor()
    try:
        rows = _stamp_statement(conn.dialect).rows(cursor, patient_id=patient_id)
    finally:
        cursor.close()
    return (rows[0][0], int(rows[0][1])) if rows else ("", 0)


@lru_cache(maxsize=4)
def _stamp_statement(dialect) -> PreparedSelect:
    s = compartment_stamps.c
    return PreparedSelect(sa.select(s.epoch, s.changes).where(s.patient_id == sa.bindparam("patient_id")), dialect)


def compartment(conn: sa.Connection, patient_id: str, types: tuple[str, ...]) -> list[StoredResource]:
    """Return the current resources of TYPES in PATIENT_ID's compartment."""
    rows = conn.execute(sa.select(*_COLUMNS).where(_compartment(patient_id, types)))
    return [_stored(row) for row in rows]


def page(conn: sa.Connection, patient_id: str, types: tuple[str, ...], limit: int,
         category: str | None = None, after: tuple[str, str, str] | None = None
         ) -> list[tuple[StoredResource, tuple[str, str, str]]]:
    """Return up to LIMIT listed resources of TYPES in PATIENT_ID's compartment, newest first,
    each with its key (page_date, resource_type, id) as stored: ordered by that key descending,
    of CATEGORY when given, after the key AFTER when given (the index ix_resources_patient_page
    walks them in that order). A cursor is made from the stored key, never recomputed.

    Keys compare by code point on every database, as the cursor was made in Python.
    """
    r = resources.c
    key = tuple(_binary(c, conn.dialect) for c in (r.page_date, r.resource_type, r.id))
    where = [r.patient_id == patient_id, r.page_category.is_not(None), r.resource_type.in_(types)]
    if category is not None:
        where.append(r.page_category == category)
    if after is not None:
        where.append(sa.tuple_(*key) < sa.tuple_(*(sa.literal(v, sa.String) for v in after)))
    rows = conn.execute(sa.select(*_COLUMNS, r.page_date).where(*where)
                        .order_by(*(c.desc() for c in key)).limit(limit))
    return [(_stored(row), (row.page_date, row.resource_type, row.id)) for row in rows]


def _binary(column, dialect):
    # SQLite compares text by its bytes already; PostgreSQL by the database's collation.
    return column.collate("C") if dialect.name == "postgresql" else column


def patient(conn: sa.Connection, patient_id: str) -> StoredResource | None:
    """Return the Patient resource PATIENT_ID, or None."""
    row = conn.execute(sa.select(*_COLUMNS).where(resources.c.resource_type == "Patient",
                                                  resources.c.id == patient_id)).first()
    return _stored(row) if row is not None else None


def own_record(conn: sa.Connection, patient_id: str, record_id: str,
               resource_type: str | None = None) -> StoredResource | None:
    """Return the resource RECORD_ID only if it is in PATIENT_ID's compartment (else None)."""
    where = [resources.c.patient_id == patient_id, resources.c.id == record_id]
    if resource_type:
        where.append(resources.c.resource_type == resource_type)
    rows = conn.execute(sa.select(*_COLUMNS).where(*where).order_by(resources.c.resource_type)).all()
    return _stored(rows[0]) if rows else None
