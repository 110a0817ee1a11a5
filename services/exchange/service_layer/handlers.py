"""Event handlers of the exchange service."""
from __future__ import annotations

from datetime import datetime, timezone

from services.exchange.domain.model import IndexedPatient
from services.exchange.service_layer.notify import on_amendment_updated
from services.exchange.service_layer.reports import on_amendment_answered, on_amendment_requested
from services.exchange.service_layer.unit_of_work import on


def on_records_imported(work, event: dict) -> None:
    """Index the patient whose records were imported (who holds them, how many).

    The custodian is the department that first imported the patient, and stays so: a later
    import by another department that may write records adds to the counts but does not make
    it the custodian, whose privacy officers read the patient's disclosures and emergency
    reviews (a department could otherwise take a patient's accounting by adding one record)."""
    data, uow = event["data"], on(work)
    patient, custodian = str(data["patient"]), str(data["custodian"])
    count, types = int(data["resource_count"]), dict(data.get("resource_types") or {})
    now = datetime.now(timezone.utc)
    known = uow.patients.get(patient)
    if known is None:
        uow.patients.add(IndexedPatient(patient, custodian, count, types, event["id"], now))
        uow.reports.route_waiting(patient, custodian)  # reports made before the first import
        return
    merged = dict(known.resource_types)
    for name, n in types.items():
        merged[name] = merged.get(name, 0) + n
    uow.patients.replace(IndexedPatient(patient, known.custodian, known.resource_count + count, merged,
                                        event["id"], now))


def on_amendment_changed(work, event: dict) -> None:
    """Tell the patient what the custodian did with their correction request, and close the
    reports linked to it, in one transaction."""
    on_amendment_updated(work, event)
    on_amendment_answered(work, event)


HANDLERS = {"phr.records.imported": on_records_imported,
            "phr.records.amendment-requested": on_amendment_requested,
            "phr.records.amendment-updated": on_amendment_changed}
