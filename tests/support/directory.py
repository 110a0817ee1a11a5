"""The directory of departments in tests: the demo's departments (launcher/demo/departments.json)
as phr.directory.v1 events, and a service database seeded with them as its worker would."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.directory import DISABLED, REGISTERED, TOPIC, directory_table, directory_handlers
from services.common.envelope import new_event

DEMO_DEPARTMENTS = json.loads((Path(__file__).resolve().parents[2] / "launcher" / "demo" / "departments.json").read_text())


def entry(department: str, **changes) -> dict:
    """The data of a directory event for DEPARTMENT: the demo's entry (or a clinical one) with CHANGES."""
    base = next((dict(d) for d in DEMO_DEPARTMENTS if d["department"] == department),
                {"department": department, "names": {"en": department.replace("-", " ").capitalize(),
                                                     "es": department.replace("-", " ").capitalize()},
                 "kind": "clinical", "may_claim_emergencies": False, "may_write_records": False})
    base.update(status="active", version=1, changed_at=datetime.now(timezone.utc).isoformat())
    base.update(changes)
    return base


def event(department: str, **changes) -> dict:
    """A phr.directory.v1 CloudEvent for DEPARTMENT (disabled when CHANGES say status="disabled")."""
    data = entry(department, **changes)
    if data["status"] == "disabled":
        data.setdefault("reason", "Closed by the administrator.")
        return new_event(DISABLED, "/gateway", department, data)
    return new_event(REGISTERED, "/gateway", department, data)


def seed_directory(engine: Engine, events: list[dict] | None = None) -> None:
    """Apply EVENTS (default: the demo's departments registered) to ENGINE's directory copy."""
    handlers = directory_handlers(directory_table(sa.MetaData()))
    with engine.begin() as conn:
        for e in events if events is not None else [event(d["department"]) for d in DEMO_DEPARTMENTS]:
            handlers[e["type"]](conn, e)


__all__ = ["DEMO_DEPARTMENTS", "TOPIC", "entry", "event", "seed_directory"]
