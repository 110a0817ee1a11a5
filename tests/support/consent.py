"""Helpers for the consent service's tests: a patient's and a department's headers, a grant, the
directory of departments the rules read (in memory for unit tests, or the service's own copy)."""
from __future__ import annotations

from services.common.directory import Department, Directory
from tests.support.apps import count_view_calls
from tests.support.directory import DEMO_DEPARTMENTS, entry, seed_directory
from tests.support.tokens import TokenMint


def patient(mint: TokenMint, pid: str = "pat-1", **claims) -> dict:
    """Authorization headers for patient PID's app, allowed to manage their consents."""
    return mint.patient(pid, scope="patient/Consent.cruds patient/*.rs", sub=f"acc-{pid}", **claims)


def department(mint: TokenMint, dept: str = "cardiology", scope: str = "system/*.rs system/Consent.r") -> dict:
    return mint.department(dept, scope)


def grant(client, headers: dict, **body):
    """POST a consent (cardiology, to treat, Observations unless BODY says otherwise)."""
    body = {"grantee": "cardiology", "purposes": ["TREAT"], "classes": ["Observation"], **body}
    return client.post("/patient/v1/consents", json=body, headers=headers)


def directory(*entries: dict) -> Directory:
    """The demo's departments, and ENTRIES (tests.support.directory.entry, replacing a demo entry
    of the same id), as an in-memory Directory."""
    by_id = {d["department"]: entry(d["department"]) for d in DEMO_DEPARTMENTS}
    by_id.update({e["department"]: e for e in entries})
    return Directory.of([Department.from_event_data(e) for e in by_id.values()])


def apply_directory(consent, *events: dict) -> None:
    """Apply phr.directory.v1 EVENTS to the CONSENT service's database as its worker would, then
    have the app read its copy again now (it would within a second: services/common/directory.py)."""
    seed_directory(consent.engine, list(events))
    consent.service.directory.reload()


def count_decisions(app) -> list:
    """Count the calls of APP's Flask decision view (one item per call): what the fast path
    (services/consent/entrypoints/fastpath.py) answers never reaches it."""
    return count_view_calls(app, "departments.decide")
