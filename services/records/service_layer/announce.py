"""Announce again what records holds, for a consumer that started after the events were sent.

The exchange learns whose each correction request is from phr.records.amendment-requested
(services/exchange/service_layer/reports.py on_amendment_requested), to check a report's link to
one. Its consumer group reads phr.records.v1 from the earliest offset the broker still holds
(services/common/kafka.py consumer), so a new deployment learns every request the topic still
keeps; requests older than the topic's retention, or made before a deployment's exchange had that
handler (its group had read past them already), are learned only when announced again here.
"""
from __future__ import annotations

from services.common.envelope import new_event
from services.records.adapters import correction_queries as cq
from services.records.service_layer.handlers import SOURCE, TOPIC


def announce_corrections(uow) -> int:
    """Queue phr.records.amendment-requested again, with the same data, for every correction
    request (a Task with code `change`) records holds, in one transaction; return how many. Its
    consumers keep a request once by its Task id, so an announcement heard twice changes nothing."""
    count = 0
    with uow:
        for task in cq.all_tasks(uow.conn):
            body = task.body()
            codes = [c.get("code") for c in (body.get("code") or {}).get("coding") or []]
            focus = (body.get("focus") or {}).get("reference")
            if "change" not in codes or not focus or not task.patient_id:
                continue
            uow.publish(TOPIC, new_event("phr.records.amendment-requested", SOURCE, task.patient_id, {
                "patient": task.patient_id, "custodian": task.custodian, "task": f"Task/{task.id}",
                "record": focus, "requested_at": body.get("authoredOn") or task.last_updated.isoformat()}))
            count += 1
    return count
