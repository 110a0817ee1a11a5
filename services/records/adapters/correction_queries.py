"""SQL reads of a custodian department's correction requests (SQLAlchemy Core)."""
from __future__ import annotations

import sqlalchemy as sa

from services.records.adapters.patient_queries import _COLUMNS, _stored
from services.records.adapters.repository import StoredResource
from services.records.adapters.tables import resources


def tasks_of(conn: sa.Connection, custodian: str) -> list[StoredResource]:
    """Return the current Tasks CUSTODIAN holds (ix_resources_custodian_type_patient finds them)."""
    rows = conn.execute(sa.select(*_COLUMNS).where(resources.c.custodian == custodian,
                                                   resources.c.resource_type == "Task"))
    return [_stored(row) for row in rows]


def all_tasks(conn: sa.Connection) -> list[StoredResource]:
    """Return the current Tasks of every custodian (the human measures count them all)."""
    rows = conn.execute(sa.select(*_COLUMNS).where(resources.c.resource_type == "Task"))
    return [_stored(row) for row in rows]
