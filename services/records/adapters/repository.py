"""SQL access to stored resources (SQLAlchemy Core)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.records.adapters.tables import resource_history, resources


@dataclass
class StoredResource:
    """A resource row as the service layer sees it."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    patient_id: str | None
    custodian: str
    content: dict | None = None
    text: str | None = None

    def body(self) -> dict:
        """Return the resource as a dict (parsed once, on first use)."""
        if self.content is None:
            self.content = json.loads(self.text)
        return self.content

    def serialized(self) -> str:
        """Return the resource as compact JSON (as stored, without a parse/dump round trip)."""
        if self.text is None:
            self.text = json.dumps(self.content, separators=(",", ":"))
        return self.text


class SqlResourceRepository:
    """Resources of one database connection (one unit of work)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def get(self, resource_type: str, rid: str) -> StoredResource | None:
        """Load the current version of Type/id, or None."""
        row = self.conn.execute(sa.select(resources).where(
            resources.c.resource_type == resource_type, resources.c.id == rid)).first()
        if row is None:
            return None
        return StoredResource(row.resource_type, row.id, row.version_id, row.last_updated,
                              row.patient_id, row.custodian, text=row.content)

    def add(self, stored: StoredResource) -> None:
        """Insert a new resource and its first history entry."""
        text = stored.serialized()
        self.conn.execute(resources.insert().values(
            resource_type=stored.resource_type, id=stored.id, version_id=stored.version_id,
            last_updated=stored.last_updated, patient_id=stored.patient_id,
            custodian=stored.custodian, content=text))
        self._history(stored, text)

    def replace(self, stored: StoredResource) -> None:
        """Store a new version of an existing resource and keep the old one in history."""
        text = stored.serialized()
        self.conn.execute(resources.update().where(
            resources.c.resource_type == stored.resource_type, resources.c.id == stored.id).values(
            version_id=stored.version_id, last_updated=stored.last_updated,
            patient_id=stored.patient_id, content=text))
        self._history(stored, text)

    def _history(self, stored: StoredResource, text: str) -> None:
        self.conn.execute(resource_history.insert().values(
            resource_type=stored.resource_type, id=stored.id, version_id=stored.version_id,
            last_updated=stored.last_updated, content=text))

    def count_for_patient(self, patient_id: str) -> int:
        """Count the current resources in a patient's compartment."""
        return self.conn.execute(sa.select(sa.func.count()).select_from(resources)
                                 .where(resources.c.patient_id == patient_id)).scalar_one()
