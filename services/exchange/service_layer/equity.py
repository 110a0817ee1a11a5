"""The equity report's projection: events in (EQUITY_HANDLERS), the report's inputs out (load).

Events from three producers arrive on three topics in no particular order between topics, so
every handler upserts: a patient's row may first appear from an account event and get its
demographics later. Times are the events' own ``time`` (when the fact happened at its
producer), so time-to-fulfil does not depend on how quickly this worker reads.
"""
from __future__ import annotations

import datetime as dt

from services.exchange.domain import equity
from services.exchange.service_layer.unit_of_work import on

DEMOGRAPHICS = ("language", "birth_date", "sex", "interpreter_needed")


def _time(value) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def on_records_imported(work, event: dict) -> None:
    """Keep the demographics the import states (an import without a Patient states none)."""
    data = event["data"]
    stated = data.get("demographics") or {}
    on(work).equity.patient(str(data["patient"]), {k: stated[k] for k in DEMOGRAPHICS if k in stated})


def on_code_issued(work, event: dict) -> None:
    data = event["data"]
    on(work).equity.patient(str(data["patient"]), {"code_issued_at": _time(data["issued_at"])})


def on_activated(work, event: dict) -> None:
    data = event["data"]
    on(work).equity.patient(str(data["patient"]), {"activated_at": _time(data["activated_at"])})


def on_proxy_activated(work, event: dict) -> None:
    data = event["data"]
    on(work).equity.proxy(str(data["grant_id"]), {
        "patient": str(data["patient"]), "activated_at": _time(data["activated_at"]),
        "ends_at": _time(data["ends_at"])})


def on_proxy_ended(work, event: dict) -> None:
    data = event["data"]
    on(work).equity.proxy(str(data["grant_id"]), {
        "patient": str(data["patient"]), "ended_at": _time(data["ended_at"])})


def on_exchange_requested(work, event: dict) -> None:
    data = event["data"]
    on(work).equity.exchange(str(data["request_id"]), {
        "patient": str(data["patient"]), "requested_at": _time(event["time"])})


def on_exchange_finished(work, event: dict) -> None:
    """Record how the request ended (fulfilled, denied or failed) and when."""
    data = event["data"]
    on(work).equity.exchange(str(data["request_id"]), {
        "patient": str(data["patient"]), "outcome": event["type"].rsplit(".", 1)[-1],
        "finished_at": _time(event["time"])})


EQUITY_TOPICS = ["phr.records.v1", "phr.accounts.v1", "phr.exchange.v1"]
EQUITY_HANDLERS = {
    "phr.records.imported": on_records_imported,
    "phr.accounts.activation-code-issued": on_code_issued,
    "phr.accounts.activated": on_activated,
    "phr.accounts.proxy-activated": on_proxy_activated,
    "phr.accounts.proxy-ended": on_proxy_ended,
    "phr.exchange.requested": on_exchange_requested,
    "phr.exchange.fulfilled": on_exchange_finished,
    "phr.exchange.denied": on_exchange_finished,
    "phr.exchange.failed": on_exchange_finished,
}


def load(uow, now: dt.datetime, since: dt.datetime | None = None
         ) -> tuple[list[equity.Patient], list[equity.Exchange]]:
    """Return the report's patients (as they are at NOW) and the decided exchanges since SINCE."""
    with on(uow) as work:
        return work.equity.load(now, since)
