"""SQL reads of a custodian department's correction requests (SQLAlchemy Core)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from services.records.adapters.patient_queries import _COLUMNS, _stored
from services.records.adapters.repository import StoredResource
from services.records.adapters.tables import resources
from services.records.domain.corrections import OPEN


def tasks_of(conn: sa.Connection, custodian: str) -> list[StoredResource]:
    """Return the current Tasks CUSTODIAN holds (ix_resources_custodian_type_patient finds them)."""
    rows = conn.execute(sa.select(*_COLUMNS).where(resources.c.custodian == custodian,
                                                   resources.c.resource_type == "Task"))
    return [_stored(row) for row in rows]


def all_tasks(conn: sa.Connection) -> list[StoredResource]:
    """Return the current Tasks of every custodian (announcing every correction request again)."""
    rows = conn.execute(sa.select(*_COLUMNS).where(resources.c.resource_type == "Task"))
    return [_stored(row) for row in rows]


def measured_tasks(conn: sa.Connection, since: datetime) -> list[StoredResource]:
    """Return the Tasks the human measures read: every open one (what waits now, however old)
    and those changed since SINCE (the answers of the window), never the whole table."""
    status = _status(conn)
    rows = conn.execute(sa.select(*_COLUMNS).where(
        resources.c.resource_type == "Task",
        sa.or_(status.is_(None), status.in_(OPEN), resources.c.last_updated >= since)))
    return [_stored(row) for row in rows]


def _status(conn: sa.Connection):
    """Task.status read by the database from the stored JSON (the content column is text)."""
    if conn.dialect.name == "postgresql":
        return sa.cast(resources.c.content, JSONB)["status"].astext
    return sa.func.json_extract(resources.c.content, "$.status")
