"""Use cases of the records service: each opens a unit of work, changes state, records events."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from services.common.envelope import new_event
from services.records.adapters.repository import StoredResource
from services.records.domain.bundle import EntryError, InvalidBundle, plan_transaction

SOURCE = "/services/records"
TOPIC = "phr.records.v1"


@dataclass
class ImportBundle:
    """Command: store a transaction Bundle on behalf of a custodian department."""

    bundle: object
    custodian: str


class NotFound(Exception):
    """No resource the caller may see has that type and id."""


def import_bundle(cmd: ImportBundle, uow) -> dict:
    """Store every entry of the Bundle atomically and answer with a transaction-response."""
    plan = plan_transaction(cmd.bundle)
    now = datetime.now(timezone.utc)
    responses: list[dict] = []
    with uow:
        for planned in plan.resources:
            existing = uow.resources.get(planned.resource_type, planned.id)
            version = 1
            status = "201 Created"
            if existing is not None:
                if existing.custodian != cmd.custodian:
                    raise InvalidBundle([EntryError(f"Bundle.entry[{planned.index}]",
                                                    f"{planned.resource_type}/{planned.id} is held by another department.",
                                                    "conflict")], 409)
                if _same(existing.body(), planned.content):
                    responses.append(_response("200 OK", existing))
                    continue
                if planned.method == "POST":
                    raise InvalidBundle([EntryError(f"Bundle.entry[{planned.index}]",
                                                    f"{planned.resource_type}/{planned.id} already exists; use PUT to update it.",
                                                    "duplicate")], 409)
                version, status = existing.version_id + 1, "200 OK"
            content = {**planned.content, "meta": {**planned.content.get("meta", {}),
                                                   "versionId": str(version),
                                                   "lastUpdated": now.isoformat()}}
            stored = StoredResource(planned.resource_type, planned.id, version, now,
                                    planned.patient_id, cmd.custodian, content=content)
            (uow.resources.add if version == 1 else uow.resources.replace)(stored)
            responses.append(_response(status, stored))
        for patient_id, items in plan.patients().items():
            types = Counter(r.resource_type for r in items)
            uow.publish(TOPIC, new_event("phr.records.imported", SOURCE, patient_id, {
                "patient": patient_id, "custodian": cmd.custodian,
                "resource_count": len(items), "resource_types": dict(sorted(types.items())),
                "imported_at": now.isoformat()}))
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


def read_resource(uow, resource_type: str, rid: str, department: str) -> StoredResource:
    """Return Type/id if DEPARTMENT is its custodian; anything else is NotFound (no disclosure)."""
    with uow:
        stored = uow.resources.get(resource_type, rid)
    if stored is None or stored.custodian != department:
        raise NotFound(f"{resource_type}/{rid}")
    return stored


def _same(old: dict, new: dict) -> bool:
    strip = lambda d: json.dumps({k: v for k, v in d.items() if k != "meta"}, sort_keys=True)
    return strip(old) == strip(new)


def _response(status: str, stored: StoredResource) -> dict:
    return {"response": {"status": status,
                         "location": f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}",
                         "etag": f'W/"{stored.version_id}"',
                         "lastModified": stored.last_updated.isoformat()}}
