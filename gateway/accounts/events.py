"""What the gateway tells the other services about accounts: facts on phr.accounts.v1
(docs/architecture.md, "Events").

Each event is queued in the gateway's outbox inside the transaction that changes the account
or the grant (services.common.outbox), and gateway.worker relays it. The equity report in the
exchange service reads them: who was offered an account, who opened one, who has a caregiver.
The staff events say who joins a department's staff, with which roles, and who leaves it; they
are keyed by the department, not a patient.
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


def proxy_ended(conn: sa.Connection, checker, patient: str, grant_id: str, at: int, caregiver: str,
                reason: str = "revoked") -> None:
    """Queue phr.accounts.proxy-ended: the grant of CAREGIVER (their account id, the ``act.sub``
    of their tokens) ended at AT, because the patient revoked it or (REASON "expired") its last
    day passed."""
    _queue(conn, checker, "phr.accounts.proxy-ended", patient,
           {"grant_id": grant_id, "ended_at": _iso(at), "reason": reason, "caregiver": caregiver})


# department staff (gateway/accounts/staff.py): keyed by the department, never a code or secret ---
def _queue_staff(conn: sa.Connection, checker, type_: str, department: str, data: dict) -> None:
    enqueue(conn, t.outbox, TOPIC, new_event(type_, SOURCE, department,
                                             {"department": department, **data}), checker=checker)


def staff_invited(conn: sa.Connection, checker, department: str, invite_id: str,
                  roles: tuple[str, ...], by: str, at: int, expires: int) -> None:
    """Queue phr.accounts.staff-invited: BY invited a person to DEPARTMENT's staff with ROLES."""
    _queue_staff(conn, checker, "phr.accounts.staff-invited", department,
                 {"invite_id": invite_id, "roles": list(roles), "invited_by": by,
                  "invited_at": _iso(at), "expires_at": _iso(expires)})


def staff_activated(conn: sa.Connection, checker, department: str, staff_id: str,
                    practitioner: str, roles: tuple[str, ...], invite_id: str, at: int) -> None:
    """Queue phr.accounts.staff-activated: a person confirmed their second factor and may sign in."""
    _queue_staff(conn, checker, "phr.accounts.staff-activated", department,
                 {"staff_id": staff_id, "practitioner": practitioner, "roles": list(roles),
                  "invite_id": invite_id, "activated_at": _iso(at)})


def staff_roles_changed(conn: sa.Connection, checker, department: str, staff_id: str,
                        roles: tuple[str, ...], previous: tuple[str, ...], by: str, at: int) -> None:
    """Queue phr.accounts.staff-roles-changed: BY changed a member of staff's roles."""
    _queue_staff(conn, checker, "phr.accounts.staff-roles-changed", department,
                 {"staff_id": staff_id, "roles": list(roles), "previous_roles": list(previous),
                  "changed_by": by, "changed_at": _iso(at)})


def staff_disabled(conn: sa.Connection, checker, department: str, staff_id: str, by: str,
                   at: int) -> None:
    """Queue phr.accounts.staff-disabled: BY disabled a member of staff's account."""
    _queue_staff(conn, checker, "phr.accounts.staff-disabled", department,
                 {"staff_id": staff_id, "disabled_by": by, "disabled_at": _iso(at)})
