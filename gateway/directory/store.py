"""The directory's store: each department's entry, with its OAuth client and its events.

Every change is one transaction: the entry, the client's scopes (from the entry, by
gateway/authz/departments.py), the tokens it ends, and the phr.directory.v1 event with the
entry's next version (gateway/directory/events.py). A department's id is for good: it is its
client id and the ``dept`` claim of its tokens. A disabled department stays disabled; its id
cannot be registered again.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from gateway import schema as t
from gateway import storage
from gateway.authz.departments import department_scopes
from gateway.authz.stores import ClientStore, TokenStore
from gateway.directory import events
from gateway.directory.events import entry_data
from gateway.storage import TableStore
from services.common.db import transaction
from services.common.directory import ACTIVE, Department

DISABLED = "disabled"


class DepartmentExists(Exception):
    """The id is taken: by a department (active or disabled), or by another client."""


class UnknownDepartment(LookupError):
    """No department has this id."""


class DepartmentDisabled(Exception):
    """The department is disabled: it cannot be changed any more."""


def _names(names: dict) -> str:
    return json.dumps(names, ensure_ascii=False, sort_keys=True)


class DirectoryStore(TableStore):
    """The departments' entries (gateway.schema.departments) and what changes with them."""

    def entry(self, department_id: str) -> dict | None:
        """The entry of DEPARTMENT_ID (active or disabled), or None."""
        row = self._one(sa.select(t.departments).where(t.departments.c.id == department_id))
        return entry_data(row) if row else None

    def page(self, after: str | None, limit: int) -> list[dict]:
        """At most LIMIT entries by id, after id AFTER (from the first when None)."""
        query = sa.select(t.departments).order_by(t.departments.c.id).limit(limit)
        if after is not None:
            query = query.where(t.departments.c.id > after)
        with self.engine.connect() as conn:
            return [entry_data(row) for row in conn.execute(query).mappings()]

    def departments(self) -> list[Department]:
        """Every entry, active and disabled, as services.common.directory reads one."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.departments).order_by(t.departments.c.id)).mappings().all()
        return [Department(r["id"], json.loads(r["names"]), r["kind"], bool(r["may_claim_emergencies"]),
                           bool(r["may_write_records"]), r["status"] == ACTIVE, r["version"])
                for r in rows]

    def register(self, department: str, names: dict, kind: str, may_claim_emergencies: bool,
                 may_write_records: bool, secret: str) -> tuple[dict, str]:
        """Register DEPARTMENT with its client (client_id = DEPARTMENT, SECRET kept hashed);
        return (the entry, its client's scopes). Raise DepartmentExists when the id is taken."""
        scope = department_scopes(kind, may_write_records, may_claim_emergencies)
        with transaction(self.engine) as conn:
            if ClientStore.exists(conn, department):
                raise DepartmentExists(department)
            row = dict(id=department, names=_names(names), kind=kind,
                       may_claim_emergencies=may_claim_emergencies,
                       may_write_records=may_write_records, status=ACTIVE, version=1,
                       changed_at=storage.now(), reason=None)
            # Either insert loses to a concurrent registration of the same id (PostgreSQL).
            if not (storage.inserted(conn, t.departments, **row)
                    and ClientStore.insert_department(conn, department, scope, secret)):
                raise DepartmentExists(department)
            data = entry_data(row)
            events.queue(conn, self.checker, data)
        return data, scope

    def change(self, department_id: str, names: dict, may_claim_emergencies: bool,
               may_write_records: bool) -> tuple[dict, bool]:
        """Give DEPARTMENT_ID these names and rights; return (the entry, whether it changed).

        A change that takes a right away also ends the department's live tokens, so that it
        counts at once; it asks for new ones. Raise UnknownDepartment or DepartmentDisabled.
        """
        with transaction(self.engine) as conn:
            row = self._locked(conn, department_id)
            if row["status"] != ACTIVE:
                raise DepartmentDisabled(department_id)
            same = (json.loads(row["names"]) == names
                    and bool(row["may_claim_emergencies"]) == may_claim_emergencies
                    and bool(row["may_write_records"]) == may_write_records)
            if same:
                return entry_data(row), False
            before = department_scopes(row["kind"], bool(row["may_write_records"]),
                                       bool(row["may_claim_emergencies"]))
            after = department_scopes(row["kind"], may_write_records, may_claim_emergencies)
            changed = {**row, "names": _names(names), "may_claim_emergencies": may_claim_emergencies,
                       "may_write_records": may_write_records, "version": row["version"] + 1,
                       "changed_at": storage.now()}
            self._update(conn, changed)
            ClientStore.set_scopes(conn, department_id, after)
            if not set(before.split()) <= set(after.split()):
                TokenStore.revoke_client_tokens(conn, department_id)
            if row["may_claim_emergencies"] and not may_claim_emergencies:
                # its clinicians' tokens carry the emergency scope (authz/departments.py staff_scopes)
                TokenStore.revoke_department_staff_tokens(conn, department_id)
            data = entry_data(changed)
            events.queue(conn, self.checker, data)
        return data, True

    def set_webhook(self, department_id: str, url: str | None) -> tuple[dict, bool]:
        """Give DEPARTMENT_ID the webhook URL where it takes signed notices (None: none any more);
        return (the entry, whether it changed). The exchange learns it from the entry's event.
        Raise UnknownDepartment or DepartmentDisabled."""
        with transaction(self.engine) as conn:
            row = self._locked(conn, department_id)
            if row["status"] != ACTIVE:
                raise DepartmentDisabled(department_id)
            if (row["webhook_url"] or None) == url:
                return entry_data(row), False
            changed = {**row, "webhook_url": url, "version": row["version"] + 1, "changed_at": storage.now()}
            self._update(conn, changed)
            data = entry_data(changed)
            events.queue(conn, self.checker, data)
        return data, True

    def disable(self, department_id: str, reason: str) -> tuple[dict, bool]:
        """Disable DEPARTMENT_ID for REASON: its client is refused from now on and every token
        it holds is revoked; return (the entry, whether it changed). Disabling a disabled
        department changes nothing (its first reason stays). Raise UnknownDepartment."""
        with transaction(self.engine) as conn:
            row = self._locked(conn, department_id)
            if row["status"] == DISABLED:
                return entry_data(row), False
            changed = {**row, "status": DISABLED, "reason": reason, "version": row["version"] + 1,
                       "changed_at": storage.now()}
            self._update(conn, changed)
            ClientStore.disable(conn, department_id)  # first: the client's row lock (see there)
            TokenStore.revoke_client_tokens(conn, department_id)
            TokenStore.revoke_department_staff_tokens(conn, department_id)  # its people's too
            data = entry_data(changed)
            events.queue(conn, self.checker, data)
        return data, True

    def active(self, department_id: str) -> bool:
        """Whether DEPARTMENT_ID is registered and active (what the staff store asks:
        gateway/accounts/staff_store.py DepartmentActive)."""
        row = self._one(sa.select(t.departments.c.status).where(t.departments.c.id == department_id))
        return row is not None and row["status"] == ACTIVE

    @staticmethod
    def _locked(conn, department_id: str):
        row = conn.execute(sa.select(t.departments).where(t.departments.c.id == department_id)
                           .with_for_update()).mappings().first()
        if row is None:
            raise UnknownDepartment(department_id)
        return row

    @staticmethod
    def _update(conn, row: dict) -> None:
        conn.execute(sa.update(t.departments).where(t.departments.c.id == row["id"]).values(
            {k: v for k, v in row.items() if k != "id"}))
