"""The directory of departments as a service knows it: its own copy, kept from phr.directory.v1.

The gateway owns the directory (an administrator registers and disables departments there)
and publishes each change as the department's whole entry with a growing ``version``. Each
service keeps a table of its own from those events (docs/architecture.md, "Events"), so it
learns departments from data, not from code, and answers without asking the gateway:

- ``directory_table(metadata)`` declares the table, ``create_directory_table(op)`` makes it
  from a migration;
- ``directory_handlers(table)`` is the consumer's routing table for the two event types;
  an event older than the copy (a replay, a late partition) changes nothing;
- ``Directory`` answers "who is this department, is it active, what is its name in Spanish"
  from memory, reloaded from the table at most once per ``refresh_seconds``, and at once
  (at most every ``MISS_SECONDS``) when asked about an id it does not know yet, so a
  department registered a moment ago is found as soon as the worker has stored it.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

import sqlalchemy as sa

from contracts.vocabulary import DEPARTMENT_KINDS

TOPIC = "phr.directory.v1"
REGISTERED, DISABLED = "phr.directory.department-registered", "phr.directory.department-disabled"
ACTIVE = "active"
#: How often an unknown id may send a process back to its table (bounds the cost of junk ids).
MISS_SECONDS = 0.1


@dataclass(frozen=True)
class Department:
    """One department's entry: its id, names by language, kind and what it may do."""

    id: str
    names: dict
    kind: str
    may_claim_emergencies: bool = False
    may_write_records: bool = False
    active: bool = True
    version: int = 1
    # Where the department takes signed notices (revocation receipts); only the exchange keeps
    # it, in a table of its own (services/exchange/service_layer/receipts.py), so copies loaded
    # from the directory table have None.
    webhook_url: str | None = None

    def name(self, lang: str) -> str:
        """The department's display name in LANG (its English name when LANG has none)."""
        return self.names.get(lang) or self.names.get(lang.split("-")[0]) or self.names.get("en") or self.id

    @property
    def holds_patient_data(self) -> bool:
        """Whether a patient may share records with it (oversight departments see reports only)."""
        return self.kind != "oversight"

    @classmethod
    def from_event_data(cls, data: dict) -> "Department":
        if data["kind"] not in DEPARTMENT_KINDS:
            raise ValueError(f"unknown department kind {data['kind']!r}")
        return cls(data["department"], dict(data["names"]), data["kind"],
                   bool(data["may_claim_emergencies"]), bool(data["may_write_records"]),
                   data["status"] == ACTIVE, int(data["version"]), data.get("webhook_url"))


def _columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("names", sa.Text, nullable=False),  # JSON {language: name}
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("may_claim_emergencies", sa.Boolean, nullable=False),
        sa.Column("may_write_records", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def directory_table(metadata: sa.MetaData) -> sa.Table:
    """Declare the service's copy of the directory on METADATA (table ``departments``)."""
    return sa.Table("departments", metadata, *_columns())


def create_directory_table(op) -> None:
    """Create the directory copy from an Alembic migration (same columns as directory_table)."""
    op.create_table("departments", *_columns())


def store(conn: sa.Connection, table: sa.Table, data: dict) -> bool:
    """Keep DATA (an event's department entry) unless the copy already has this version or a
    later one; return whether it changed the copy."""
    department = Department.from_event_data(data)  # refuses an entry this code cannot read
    row = {"names": json.dumps(department.names, ensure_ascii=False, sort_keys=True),
           "kind": department.kind, "may_claim_emergencies": department.may_claim_emergencies,
           "may_write_records": department.may_write_records, "status": data["status"],
           "version": department.version, "changed_at": datetime.fromisoformat(data["changed_at"])}
    known = conn.execute(sa.select(table.c.version).where(table.c.id == department.id)).scalar()
    if known is None:
        conn.execute(table.insert().values(id=department.id, **row))
        return True
    if known >= department.version:
        return False
    conn.execute(table.update().where(table.c.id == department.id).values(**row))
    return True


def directory_handlers(table: sa.Table, then: Callable[[sa.Connection, Department], None] | None = None) -> dict:
    """The consumer's routing table for phr.directory.v1: keep each entry in TABLE.

    THEN, if given, runs in the same transaction after a change was kept (the exchange service
    denies a disabled department's pending requests there).
    """
    def handle(conn: sa.Connection, event: dict) -> None:
        if store(conn, table, event["data"]) and then is not None:
            then(conn, Department.from_event_data(event["data"]))
    return {REGISTERED: handle, DISABLED: handle}


def sql_loader(engine, table: sa.Table) -> Callable[[], list[Department]]:
    """Return a function that reads every entry of TABLE (the Directory's source in a service)."""
    def load() -> list[Department]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table)).mappings().all()
        return [Department(r["id"], json.loads(r["names"]), r["kind"], bool(r["may_claim_emergencies"]),
                           bool(r["may_write_records"]), r["status"] == ACTIVE, r["version"])
                for r in rows]
    return load


class Directory:
    """The departments a process knows, read from memory and reloaded by LOAD when stale.

    LOAD returns every entry: ``sql_loader(engine, table)`` in a service, a list in a unit test
    (``Directory.of(...)``).
    """

    def __init__(self, load: Callable[[], Iterable[Department]], refresh_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._load, self.refresh_seconds, self._clock = load, refresh_seconds, clock
        self._entries: dict[str, Department] = {}
        self._loaded_at = self._missed_at = float("-inf")
        self._lock = threading.Lock()

    @classmethod
    def of(cls, departments: Iterable[Department]) -> "Directory":
        entries = list(departments)
        return cls(lambda: entries)

    def reload(self) -> None:
        """Read every entry again now."""
        entries = {d.id: d for d in self._load()}
        with self._lock:
            self._entries, self._loaded_at = entries, self._clock()

    def _fresh(self) -> dict[str, Department]:
        if self._clock() - self._loaded_at >= self.refresh_seconds:
            self.reload()
        return self._entries

    def get(self, department_id: str | None) -> Department | None:
        """The entry of DEPARTMENT_ID (active or disabled), or None when it was never registered."""
        if not isinstance(department_id, str):
            return None
        found = self._fresh().get(department_id)
        if found is None and self._clock() - self._missed_at >= MISS_SECONDS:
            self._missed_at = self._clock()
            self.reload()
            found = self._entries.get(department_id)
        return found

    def active(self, department_id: str | None) -> Department | None:
        """The entry of DEPARTMENT_ID when it is registered and not disabled, else None."""
        found = self.get(department_id)
        return found if found is not None and found.active else None

    def name(self, department_id: str | None, lang: str) -> str:
        """DEPARTMENT_ID's display name in LANG; the id itself for a department never registered."""
        found = self.get(department_id)
        return found.name(lang) if found is not None else (department_id or "")

    def all(self) -> list[Department]:
        """Every entry, active and disabled, by id."""
        return sorted(self._fresh().values(), key=lambda d: d.id)

    def __len__(self) -> int:
        return len(self._fresh())
