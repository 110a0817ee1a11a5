"""The equity report's projection: events in (EQUITY_HANDLERS), the report's inputs out (load).

Events from three producers arrive on three topics in no particular order between topics, so
every handler upserts: a patient's row may first appear from an account event and get its
demographics later. Times are the events' own ``time`` (when the fact happened at its
producer), so time-to-fulfil does not depend on how quickly this worker reads.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from services.exchange.adapters.tables import equity_exchanges as X
from services.exchange.adapters.tables import equity_patients as P
from services.exchange.adapters.tables import equity_proxies as G
from services.exchange.domain import equity

DEMOGRAPHICS = ("language", "birth_date", "sex", "interpreter_needed")


def _time(value) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _upsert(conn: sa.Connection, table: sa.Table, key: str, key_value: str, values: dict) -> None:
    column = table.c[key]
    if conn.execute(sa.select(column).where(column == key_value)).first() is None:
        conn.execute(table.insert().values({key: key_value, **values}))
    elif values:
        conn.execute(table.update().where(column == key_value).values(**values))


def _patient(conn: sa.Connection, patient: str, values: dict) -> None:
    _upsert(conn, P, "patient_id", patient, {**values, "updated_at": dt.datetime.now(dt.timezone.utc)})


def on_records_imported(conn: sa.Connection, event: dict) -> None:
    """Keep the demographics the import states (an import without a Patient states none)."""
    data = event["data"]
    stated = data.get("demographics") or {}
    _patient(conn, str(data["patient"]), {k: stated[k] for k in DEMOGRAPHICS if k in stated})


def on_code_issued(conn: sa.Connection, event: dict) -> None:
    data = event["data"]
    _patient(conn, str(data["patient"]), {"code_issued_at": _time(data["issued_at"])})


def on_activated(conn: sa.Connection, event: dict) -> None:
    data = event["data"]
    _patient(conn, str(data["patient"]), {"activated_at": _time(data["activated_at"])})


def on_proxy_activated(conn: sa.Connection, event: dict) -> None:
    data = event["data"]
    _upsert(conn, G, "grant_id", str(data["grant_id"]), {
        "patient": str(data["patient"]), "activated_at": _time(data["activated_at"]),
        "ends_at": _time(data["ends_at"])})


def on_proxy_ended(conn: sa.Connection, event: dict) -> None:
    data = event["data"]
    _upsert(conn, G, "grant_id", str(data["grant_id"]), {
        "patient": str(data["patient"]), "ended_at": _time(data["ended_at"])})


def on_exchange_requested(conn: sa.Connection, event: dict) -> None:
    data = event["data"]
    _upsert(conn, X, "request_id", str(data["request_id"]), {
        "patient": str(data["patient"]), "requested_at": _time(event["time"])})


def on_exchange_finished(conn: sa.Connection, event: dict) -> None:
    """Record how the request ended (fulfilled, denied or failed) and when."""
    data = event["data"]
    _upsert(conn, X, "request_id", str(data["request_id"]), {
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


def load(conn: sa.Connection, now: dt.datetime, since: dt.datetime | None = None
         ) -> tuple[list[equity.Patient], list[equity.Exchange]]:
    """Return the report's patients (as they are at NOW) and the decided exchanges since SINCE."""
    in_force = sa.select(G.c.patient).where(
        G.c.activated_at.is_not(None), G.c.ended_at.is_(None), G.c.ends_at > now).distinct()
    managed = {row.patient for row in conn.execute(in_force)}
    patients = [equity.Patient(
        id=row.patient_id, language=row.language, birth_date=row.birth_date, sex=row.sex,
        interpreter_needed=row.interpreter_needed, proxy_managed=row.patient_id in managed,
        activated=row.activated_at is not None) for row in conn.execute(sa.select(P))]
    query = sa.select(X).where(X.c.outcome.in_(("fulfilled", "denied")))
    if since is not None:
        query = query.where(X.c.requested_at >= since)
    exchanges = []
    for row in conn.execute(query):
        requested, finished = _utc(row.requested_at), _utc(row.finished_at)
        seconds = (finished - requested).total_seconds() if requested and finished else None
        exchanges.append(equity.Exchange(row.patient, row.outcome == "fulfilled", seconds))
    return patients, exchanges
