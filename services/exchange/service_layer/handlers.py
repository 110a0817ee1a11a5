"""Event handlers of the exchange service."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from services.exchange.adapters.tables import patient_index
from services.exchange.service_layer.notify import on_amendment_updated


def on_records_imported(conn: sa.Connection, event: dict) -> None:
    """Index the patient whose records were imported (who holds them, how many)."""
    data = event["data"]
    patient, custodian = str(data["patient"]), str(data["custodian"])
    count, types = int(data["resource_count"]), dict(data.get("resource_types") or {})
    now = datetime.now(timezone.utc)
    row = conn.execute(sa.select(patient_index).where(patient_index.c.patient_id == patient)).first()
    if row is None:
        conn.execute(patient_index.insert().values(
            patient_id=patient, custodian=custodian, resource_count=count,
            resource_types=json.dumps(types), last_event_id=event["id"], updated_at=now))
        return
    merged = json.loads(row.resource_types)
    for name, n in types.items():
        merged[name] = merged.get(name, 0) + n
    conn.execute(patient_index.update().where(patient_index.c.patient_id == patient).values(
        custodian=custodian, resource_count=row.resource_count + count,
        resource_types=json.dumps(merged), last_event_id=event["id"], updated_at=now))


HANDLERS = {"phr.records.imported": on_records_imported,
            "phr.records.amendment-updated": on_amendment_updated}
