"""What the gateway tells the other services about accounts: facts on phr.accounts.v1
(docs/architecture.md, "Events").

Each event is queued in the gateway's outbox inside the transaction that changes the account
or the grant (services.common.outbox), and gateway.worker relays it. The equity report in the
exchange service reads them: who was offered an account, who opened one, who has a caregiver.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gateway import schema as t
from services.common.envelope import new_event
from services.common.outbox import enqueue

SOURCE = "/gateway"
TOPIC = "phr.accounts.v1"


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()


def _queue(conn: sa.Connection, checker, type_: str, patient: str, data: dict) -> None:
    enqueue(conn, t.outbox, TOPIC, new_event(type_, SOURCE, patient, {"patient": patient, **data}),
            checker=checker)


def code_issued(conn: sa.Connection, checker, patient: str, department: str, issued: int,
                expires: int) -> None:
    """Queue phr.accounts.activation-code-issued: a department offered PATIENT an account."""
    _queue(conn, checker, "phr.accounts.activation-code-issued", patient,
           {"department": department, "issued_at": _iso(issued), "expires_at": _iso(expires)})


def activated(conn: sa.Connection, checker, patient: str, at: int) -> None:
    """Queue phr.accounts.activated: PATIENT opened their portal account."""
    _queue(conn, checker, "phr.accounts.activated", patient, {"activated_at": _iso(at)})


def proxy_activated(conn: sa.Connection, checker, patient: str, grant_id: str, relationship: str,
                    at: int, ends_at: int) -> None:
    """Queue phr.accounts.proxy-activated: a caregiver joined a grant and may act until ENDS_AT."""
    _queue(conn, checker, "phr.accounts.proxy-activated", patient,
           {"grant_id": grant_id, "relationship": relationship, "activated_at": _iso(at),
            "ends_at": _iso(ends_at)})


def proxy_ended(conn: sa.Connection, checker, patient: str, grant_id: str, at: int) -> None:
    """Queue phr.accounts.proxy-ended: the patient revoked the grant before its end."""
    _queue(conn, checker, "phr.accounts.proxy-ended", patient,
           {"grant_id": grant_id, "ended_at": _iso(at), "reason": "revoked"})
