"""Consent-filtered subscriptions: FHIR R4 ``Subscription`` with a ``rest-hook`` channel and an
id-only payload (README, "Subscriptions").

A department subscribes to one patient's new or changed records of one resource type
(R4 criteria are one search: ``Observation?patient=Patient/123``). The exchange tells its
endpoint the ids of what was written, never the content: the department reads the records
through the FHIR API or an exchange request, where consent is decided again.

This module is pure: it reads a Subscription resource into a ``Spec`` (or says which elements
are wrong), judges an endpoint against the host policy, and builds the notification body.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from contracts.http import FHIR_ID_RE
from contracts.limits import ID_MAX
from contracts.vocabulary import RESOURCE_TYPES
from services.common import outbound

REST_HOOK = "rest-hook"
FHIR_JSON = "application/fhir+json"
#: The Subscriptions R5 Backport IG's extension on channel.payload that says how much goes in a
#: notification. We take its ``id-only`` (and ``empty``) and refuse ``full-resource``.
PAYLOAD_CONTENT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"
ACTIVE, OFF = "active", "off"
#: What a subscription may name: the data classes a consent may name, less Patient itself
#: (a patient's own demographics are not "new records").
TYPES = tuple(t for t in RESOURCE_TYPES if t != "Patient")
MAX_HEADERS, HEADER_MAX = 5, 500
ENDPOINT_MAX, REASON_MAX = 500, 500
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}: ?[\x20-\x7e]{1,400}$")
#: Headers a department may not set on its own notifications (we set them, or they would
#: change how the request is read).
_RESERVED_HEADERS = {"host", "content-type", "content-length", "transfer-encoding", "connection"}


class Invalid(ValueError):
    """The Subscription breaks a rule; ISSUES are (expression, message, FHIR issue code)."""

    def __init__(self, issues: list[tuple[str, str, str]]):
        super().__init__("; ".join(f"{e}: {m}" for e, m, _ in issues))
        self.issues = issues


class Taken(Exception):
    """A concurrent request stored a live subscription with the same department, patient, type
    and endpoint first (the one it may hold)."""


@dataclass(frozen=True)
class Spec:
    """What a department asked for, checked."""

    patient: str
    resource_type: str
    criteria: str
    endpoint: str
    payload: str | None  # None: an empty notification; FHIR_JSON: the ids
    headers: tuple[str, ...] = ()
    reason: str = ""
    end: str | None = None  # FHIR instant, kept as given
    purpose: str = "TREAT"


@dataclass
class Subscription:
    """A stored subscription of DEPARTMENT."""

    id: str
    department: str
    spec: Spec
    status: str
    created_at: datetime
    updated_at: datetime
    events_since_start: int = 0
    error: str | None = None
    extra: dict = field(default_factory=dict)


def parse(resource: object) -> Spec:
    """Read a Subscription resource (R4) into a Spec, or raise Invalid naming every wrong element."""
    if not isinstance(resource, dict):
        raise Invalid([("Subscription", "The body must be a JSON object.", "structure")])
    issues: list[tuple[str, str, str]] = []
    if resource.get("resourceType") != "Subscription":
        issues.append(("Subscription.resourceType", "The body must be a Subscription.", "invalid"))
    status = resource.get("status", "requested")
    if status not in ("requested", "active"):
        issues.append(("Subscription.status", "Create a subscription as requested or active.", "value"))
    reason = resource.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX:
        issues.append(("Subscription.reason", f"Say why, in 1 to {REASON_MAX} characters.", "required"))
    end = resource.get("end")
    if end is not None and not _instant(end):
        issues.append(("Subscription.end", "Give end as a FHIR instant with a time zone.", "value"))
    patient, rtype = None, None
    try:
        rtype, patient = parse_criteria(resource.get("criteria"))
    except Invalid as exc:
        issues += exc.issues
    channel = resource.get("channel")
    endpoint, payload, headers = None, None, ()
    if not isinstance(channel, dict):
        issues.append(("Subscription.channel", "A channel is required.", "required"))
    else:
        if channel.get("type") != REST_HOOK:
            issues.append(("Subscription.channel.type", "Only the rest-hook channel is served.", "not-supported"))
        endpoint = channel.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_MAX:
            issues.append(("Subscription.channel.endpoint",
                           f"Give the endpoint as an http or https URL of at most {ENDPOINT_MAX} characters.",
                           "required"))
            endpoint = None
        else:
            problem = endpoint_problem(endpoint)
            if problem:
                issues.append(("Subscription.channel.endpoint", problem, "value"))
        try:
            payload = _payload(channel)
        except Invalid as exc:
            issues += exc.issues
        try:
            headers = _headers(channel.get("header"))
        except Invalid as exc:
            issues += exc.issues
    if issues:
        raise Invalid(issues)
    return Spec(patient, rtype, resource["criteria"], endpoint, payload, headers, reason.strip(), end)


def parse_criteria(criteria: object) -> tuple[str, str]:
    """Return (resource type, patient id) of ``Type?patient=[Patient/]id``: the one search served."""
    where = "Subscription.criteria"
    if not isinstance(criteria, str) or "?" not in criteria or len(criteria) > 200:
        raise Invalid([(where, "Use criteria like Observation?patient=Patient/123.", "required")])
    rtype, query = criteria.split("?", 1)
    if rtype not in TYPES:
        raise Invalid([(where, f"{rtype or 'The type'} is not a kind of record you can subscribe to.",
                        "not-supported")])
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise Invalid([(where, "The search after ? is not well formed.", "invalid")]) from None
    names = [name for name, _ in params]
    if names != ["patient"]:
        raise Invalid([(where, "Search by patient only, once: Type?patient=Patient/123.", "not-supported")])
    value = params[0][1]
    patient = value[len("Patient/"):] if value.startswith("Patient/") else value
    if not FHIR_ID_RE.match(patient) or len(patient) > ID_MAX:
        raise Invalid([(where, "The patient must be a FHIR id, as Patient/123.", "value")])
    return rtype, patient


def _payload(channel: dict) -> str | None:
    """None (empty notifications) or FHIR_JSON (id-only); full-resource is refused."""
    payload = channel.get("payload")
    content = None
    for ext in channel.get("_payload", {}).get("extension", []) if isinstance(channel.get("_payload"), dict) else []:
        if isinstance(ext, dict) and ext.get("url") == PAYLOAD_CONTENT:
            content = ext.get("valueCode")
    if payload is None:
        if content not in (None, "empty"):
            raise Invalid([("Subscription.channel.payload", "Name application/fhir+json to get ids.", "value")])
        return None
    if payload != FHIR_JSON:
        raise Invalid([("Subscription.channel.payload", "The payload is application/fhir+json or none.",
                        "not-supported")])
    if content == "empty":
        return None
    if content not in (None, "id-only"):
        raise Invalid([("Subscription.channel.payload",
                        "Notifications carry ids only; read the records through the FHIR API.", "not-supported")])
    return FHIR_JSON


def _headers(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_HEADERS:
        raise Invalid([("Subscription.channel.header", f"Give at most {MAX_HEADERS} headers.", "value")])
    for i, header in enumerate(value):
        if not isinstance(header, str) or not _HEADER.match(header) \
                or header.split(":", 1)[0].strip().lower() in _RESERVED_HEADERS:
            raise Invalid([(f"Subscription.channel.header[{i}]", "Give a header as Name: value.", "value")])
    return tuple(value)


def _instant(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def ended(spec: Spec, now: datetime) -> bool:
    """Whether SPEC's end (R4 Subscription.end: when it turns off) has passed at NOW."""
    if not spec.end:
        return False
    return datetime.fromisoformat(spec.end.replace("Z", "+00:00")) <= now


# -- endpoints -----------------------------------------------------------------------------------

def endpoint_problem(url: str) -> str | None:
    """What is wrong with URL as a notification endpoint in itself (scheme, credentials, form), or None.

    Where it may point is HostPolicy's to judge, at creation and again at each delivery."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "The endpoint is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "The endpoint must be an http or https URL."
    if not parts.hostname:
        return "The endpoint must name a host."
    if parts.username is not None or parts.password is not None:
        return "Put no user name or password in the endpoint; send a header instead."
    if parts.fragment:
        return "The endpoint must not have a fragment (#)."
    if port == 0:
        return "The endpoint's port is not valid."
    return None


# HostPolicy, the one policy of every outbound callback a department names, lives in
# services/common/outbound.py (the gateway judges webhook URLs with it too); named here as before.
HostPolicy, port_of = outbound.HostPolicy, outbound.port_of


# -- notifications ---------------------------------------------------------------------------------

def notification(sub: Subscription, base: str, resource_ids: list[str], events_since_start: int,
                 now: datetime) -> dict:
    """The notification Bundle (type history, as R4B/R5 and the Backport IG send): a Parameters of
    the subscription's status first, then one entry per resource id, with its full URL and no
    resource. BASE is the FHIR API's public base (the gateway's /fhir)."""
    status = {"resourceType": "Parameters", "parameter": [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{sub.id}"}},
        {"name": "status", "valueCode": sub.status},
        {"name": "type", "valueCode": "event-notification"},
        {"name": "events-since-subscription-start", "valueString": str(events_since_start)},
        {"name": "notification-event", "part": [
            {"name": "event-number", "valueString": str(events_since_start)},
            {"name": "timestamp", "valueInstant": now.isoformat()}]},
    ]}
    entries = [{"fullUrl": f"urn:uuid:{sub.id}-{events_since_start}", "resource": status,
                "request": {"method": "GET", "url": f"Subscription/{sub.id}/$status"},
                "response": {"status": "200"}}]
    for rid in resource_ids:
        entries.append({"fullUrl": f"{base}/{sub.spec.resource_type}/{rid}",
                        "request": {"method": "PUT", "url": f"{sub.spec.resource_type}/{rid}"},
                        "response": {"status": "200"}})
    return {"resourceType": "Bundle", "type": "history", "timestamp": now.isoformat(), "entry": entries}


def matching(sub: Subscription, resources: list[dict], redact: list[str]) -> list[str]:
    """The ids among RESOURCES (an imported event's: {type, id, labels}) SUB is told of: of its
    type, none carrying a label the decision's obligations say to leave out (REDACT): the id of a
    mental-health note is itself a disclosure."""
    out = []
    for r in resources:
        if r.get("type") == sub.spec.resource_type and not set(r.get("labels") or ()) & set(redact):
            out.append(str(r["id"]))
    return list(dict.fromkeys(out))


def as_resource(sub: Subscription) -> dict:
    """The stored subscription as an R4 Subscription resource."""
    channel = {"type": REST_HOOK, "endpoint": sub.spec.endpoint}
    if sub.spec.payload:
        channel["payload"] = sub.spec.payload
        channel["_payload"] = {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]}
    if sub.spec.headers:
        # A header may carry the receiver's secret: it is kept to send, never shown back.
        channel["header"] = [h.split(":", 1)[0] + ": ***" for h in sub.spec.headers]
    body = {"resourceType": "Subscription", "id": sub.id,
            "meta": {"lastUpdated": sub.updated_at.isoformat()},
            "status": sub.status, "reason": sub.spec.reason, "criteria": sub.spec.criteria,
            "channel": channel}
    if sub.spec.end:
        body["end"] = sub.spec.end
    if sub.error:
        body["error"] = sub.error
    return body
