"""Notifications for the patient: break-the-glass, consent changes and departments' sharing
requests with their answers (from consent events), and the outcome of their correction requests
(phr.records.amendment-updated)."""
from __future__ import annotations

from datetime import datetime, timezone

from services.exchange.service_layer.flow import add_notification
from services.exchange.service_layer.reviews import queue_claim


def _when(event: dict) -> datetime:
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return datetime.now(timezone.utc)


def _grantee(data: dict) -> str:
    grantee = data.get("grantee") or {}
    return str(grantee.get("id") or "")


def on_consent_changed(work, event: dict) -> None:
    """Tell the patient that a consent was granted, revoked or ended."""
    data, kind = event["data"], event["type"].rsplit(".", 1)[-1]
    add_notification(work, str(data["patient"]), f"consent-{kind}", f"event:{event['id']}", _when(event),
                     {"consent_id": data.get("consent_id"), "department": _grantee(data),
                      "grantee_kind": (data.get("grantee") or {}).get("kind", "department")})


def on_break_glass(work, event: dict) -> None:
    """Tell the patient that a department used emergency access, and why; queue the claim for
    the privacy officers' review in the same transaction."""
    data = event["data"]
    queue_claim(work, event)
    add_notification(work, str(data["patient"]), "break-glass", f"event:{event['id']}", _when(event),
                     {"department": data.get("department"), "reason": data.get("reason"),
                      "grant_id": data.get("grant_id"), "expires_at": data.get("expires_at")})


def on_sharing_requested(work, event: dict) -> None:
    """Tell the patient that a department asks them to share some kinds of record, and for what."""
    data = event["data"]
    add_notification(work, str(data["patient"]), "sharing-requested", f"event:{event['id']}", _when(event),
                     {"department": data.get("department"), "request_id": data.get("request_id"),
                      "classes": list(data.get("classes") or []),
                      "purpose": (data.get("purposes") or ["TREAT"])[0]})


def on_sharing_answered(work, event: dict) -> None:
    """Tell the patient how their sharing request was answered (by them or their caregiver)."""
    data = event["data"]
    kind = "sharing-approved" if data.get("answer") == "approved" else "sharing-declined"
    add_notification(work, str(data["patient"]), kind, f"event:{event['id']}", _when(event),
                     {"department": data.get("department"), "request_id": data.get("request_id"),
                      "consent_id": data.get("consent_id")})


#: FHIR Task.status -> the kind of notification the patient gets; other statuses say nothing.
AMENDMENT_OUTCOMES = {"accepted": "amendment-accepted", "in-progress": "amendment-accepted",
                      "rejected": "amendment-rejected", "cancelled": "amendment-rejected",
                      "failed": "amendment-rejected", "completed": "amendment-completed"}


def on_amendment_updated(work, event: dict) -> None:
    """Tell the patient what the custodian did with their correction request."""
    data = event["data"]
    kind = AMENDMENT_OUTCOMES.get(str(data["status"]))
    if kind is None:
        return
    add_notification(work, str(data["patient"]), kind, f"event:{event['id']}", _when(event),
                     {"department": data.get("custodian"), "task": data.get("task"),
                      "record": data.get("record"), "status": data.get("status")})


NOTIFY_HANDLERS = {
    "phr.consent.granted": on_consent_changed,
    "phr.consent.revoked": on_consent_changed,
    "phr.consent.expired": on_consent_changed,
    "phr.consent.break-glass": on_break_glass,
    "phr.consent.sharing-requested": on_sharing_requested,
    "phr.consent.sharing-answered": on_sharing_answered,
}
