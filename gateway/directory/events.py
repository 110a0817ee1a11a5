"""What the gateway tells the other services about departments: a department's whole entry on
phr.directory.v1, keyed by its id, after every change (docs/architecture.md, "Events").

Each event is queued in the gateway's outbox inside the transaction that changes the entry
(services.common.outbox), and gateway.worker relays it; consent, records and exchange keep
their copies from them (services/common/directory.py).
"""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from gateway import schema as t
from services.common.directory import DISABLED, REGISTERED, TOPIC
from services.common.envelope import new_event
from services.common.outbox import enqueue

SOURCE = "/gateway"


def entry_data(row) -> dict:
    """A departments row as the entry its events and the admin API carry."""
    data = {"department": row["id"], "names": json.loads(row["names"]), "kind": row["kind"],
            "may_claim_emergencies": bool(row["may_claim_emergencies"]),
            "may_write_records": bool(row["may_write_records"]), "status": row["status"],
            "version": row["version"],
            "changed_at": dt.datetime.fromtimestamp(row["changed_at"], dt.timezone.utc).isoformat()}
    if row.get("webhook_url"):
        data["webhook_url"] = row["webhook_url"]
    if row["status"] == "disabled":
        data["reason"] = row["reason"]
    return data


def queue(conn: sa.Connection, checker, data: dict) -> None:
    """Queue the event of entry DATA: department-disabled when it is disabled, else
    department-registered (a new entry, or a change of one)."""
    type_ = DISABLED if data["status"] == "disabled" else REGISTERED
    enqueue(conn, t.outbox, TOPIC, new_event(type_, SOURCE, data["department"], data),
            checker=checker)
