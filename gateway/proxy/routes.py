"""What the gateway forwards where, and the scope each route needs: the two routing tables.

ROUTES is deny-by-default: a request under a proxied prefix that matches no row is a 404.
A scope rule is (context, resource, interactions) in SMART v2 terms (services.common.smart);
"{type}" in the resource is replaced by the path's resource type; None means no token needed.
A tuple of rules means any one of them (gateway.proxy.guard): reading FHIR is a department's
(system/) or a patient's app's (patient/, the records service limits it to the compartment).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.http import FHIR_ID_PART, FHIR_TYPE_PART
from services.common import bodies

#: Path prefix -> upstream service (a key of Settings.peers); longest prefix first.
UPSTREAMS: list[tuple[str, str]] = [
    ("/patient/v1/notifications", "exchange"),
    ("/patient/v1/notification-preferences", "exchange"),
    ("/patient/v1/disclosures", "exchange"),
    ("/patient/v1/reports", "exchange"),
    ("/patient/v1/amendments", "records"),
    ("/patient/v1/corrections", "records"),
    ("/patient/v1/consents", "consent"),
    ("/patient/v1/sharing-requests", "consent"),
    ("/staff/v1/sharing-requests", "consent"),
    ("/patient/v1/records", "records"),
    ("/patient/v1/entries", "records"),
    ("/patient/v1/me", "records"),
    ("/exchange/v1", "exchange"),
    ("/staff/v1/corrections", "records"),
    ("/staff/v1/inbox", "exchange"),
    ("/staff/v1/requests", "exchange"),
    ("/staff/v1/break-glass-reviews", "exchange"),
    ("/staff/v1/disclosures", "exchange"),
    ("/staff/v1/reports", "exchange"),
    ("/staff/v1/break-glass", "consent"),  # after its longer sibling above: prefixes match in order
    ("/staff/v1/measures/consent", "consent"),
    ("/staff/v1/measures/records", "records"),
    ("/staff/v1/measures/exchange", "exchange"),
    ("/consent/v1", "consent"),
    ("/equity/v1", "exchange"),
    ("/fhir/Consent", "consent"),  # FHIR R4 Consent resources come from the consent service
    # FHIR R4 Subscription: notifications go out on the exchange's consent decisions, into its ledger
    ("/fhir/Subscription", "exchange"),
    ("/fhir", "records"),
]

Rule = tuple[str, str, str] | tuple[tuple[str, str, str], ...] | None


def _either(interactions: str) -> tuple[tuple[str, str, str], ...]:
    """A FHIR read a department or a patient's app may make (SMART system/ or patient/ scopes)."""
    return ("system", "{type}", interactions), ("patient", "{type}", interactions)


#: (method, path pattern) -> scope rule. The first matching row wins.
ROUTES: list[tuple[str, str, Rule]] = [
    # FHIR for departments (records)
    ("GET", "/fhir/metadata", None),
    ("POST", "/fhir", ("system", "*", "c")),  # transaction Bundle may touch any type
    ("GET", "/fhir/{type}/{id}/_history", _either("r")),
    ("GET", "/fhir/{type}/{id}/_history/{vid}", _either("r")),
    ("GET", "/fhir/{type}/{id}", _either("r")),
    ("GET", "/fhir/{type}", _either("s")),
    ("POST", "/fhir/{type}/_search", ("system", "{type}", "s")),
    ("POST", "/fhir/{type}", ("system", "{type}", "c")),
    ("PUT", "/fhir/{type}/{id}", ("system", "{type}", "u")),
    ("DELETE", "/fhir/{type}/{id}", ("system", "{type}", "d")),
    # patients (portal tokens with a patient claim)
    ("GET", "/patient/v1/me", ("patient", "Patient", "r")),
    ("GET", "/patient/v1/records", ("patient", "*", "rs")),
    ("GET", "/patient/v1/records/{id}", ("patient", "*", "r")),
    ("POST", "/patient/v1/entries", ("patient", "Observation", "c")),
    # a request to the custodian, stored as a FHIR Task: a right of its own for a caregiver
    ("POST", "/patient/v1/amendments", ("patient", "Task", "c")),
    ("GET", "/patient/v1/amendments", ("patient", "*", "r")),
    # a statement of disagreement after a denial is part of the same correction request
    ("POST", "/patient/v1/corrections/{id}/disagreement", ("patient", "Task", "c")),
    ("GET", "/patient/v1/consents", ("patient", "Consent", "s")),
    ("POST", "/patient/v1/consents", ("patient", "Consent", "c")),
    ("GET", "/patient/v1/consents/{id}", ("patient", "Consent", "r")),
    ("DELETE", "/patient/v1/consents/{id}", ("patient", "Consent", "d")),
    # a department's request to share: reading it is reading consents, answering it changes them
    ("GET", "/patient/v1/sharing-requests", ("patient", "Consent", "s")),
    ("GET", "/patient/v1/sharing-requests/{id}", ("patient", "Consent", "r")),
    ("POST", "/patient/v1/sharing-requests/{id}/approve", ("patient", "Consent", "c")),
    ("POST", "/patient/v1/sharing-requests/{id}/decline", ("patient", "Consent", "c")),
    ("GET", "/patient/v1/disclosures", ("patient", "AuditEvent", "s")),
    ("GET", "/patient/v1/notifications", ("patient", "Communication", "s")),
    # how my notices reach me: reading them is reading notices; changing them is the person's own
    # (patient/Communication.u: the portal, and a caregiver who may see the records)
    ("GET", "/patient/v1/notification-preferences", ("patient", "Communication", "u")),  # addresses: not an app's
    ("PUT", "/patient/v1/notification-preferences", ("patient", "Communication", "u")),
    ("POST", "/patient/v1/notification-preferences/addresses", ("patient", "Communication", "u")),
    ("POST", "/patient/v1/notification-preferences/addresses/{id}/verify", ("patient", "Communication", "u")),
    ("POST", "/patient/v1/notification-preferences/addresses/{id}/resend", ("patient", "Communication", "u")),
    ("DELETE", "/patient/v1/notification-preferences/addresses/{id}", ("patient", "Communication", "u")),
    # reports: a patient (or caregiver) reports a problem and follows their own
    ("POST", "/patient/v1/reports", ("patient", "Report", "c")),
    ("GET", "/patient/v1/reports", ("patient", "Report", "s")),
    ("GET", "/patient/v1/reports/{id}", ("patient", "Report", "r")),
    # consent (departments)
    ("POST", "/consent/v1/decisions", ("system", "Consent", "r")),
    # breaking the glass needs a scope no wildcard covers, held by emergency departments only
    ("POST", "/consent/v1/break-glass", ("system", "BreakGlass", "c")),
    # and a clinician of such a department, in person (user/BreakGlass.c, clinicians only)
    ("POST", "/staff/v1/break-glass", ("user", "BreakGlass", "c")),
    # exchange (departments)
    ("POST", "/exchange/v1/requests", ("system", "Exchange", "c")),
    ("GET", "/exchange/v1/requests/{id}", ("system", "Exchange", "r")),
    ("GET", "/exchange/v1/requests/{id}/bundle", ("system", "Exchange", "r")),
    ("GET", "/exchange/v1/ledger/verify", ("system", "Exchange", "r")),
    # exchange (a department's staff: a person's user/ scopes)
    ("GET", "/staff/v1/inbox", ("user", "Exchange", "r")),
    # notices to the department when a consent it received records under ended (revocation receipts)
    ("GET", "/staff/v1/inbox/notices", ("user", "Communication", "rs")),
    ("GET", "/staff/v1/inbox/notices/{id}", ("user", "Communication", "r")),
    ("POST", "/staff/v1/requests", ("user", "Exchange", "c")),
    ("GET", "/staff/v1/requests/{id}", ("user", "Exchange", "r")),
    # break-the-glass reviews (a department's privacy officers): a scope no wildcard covers
    ("GET", "/staff/v1/break-glass-reviews", ("user", "BreakGlassReview", "rs")),
    ("GET", "/staff/v1/disclosures", ("user", "AuditEvent", "rs")),
    ("GET", "/staff/v1/break-glass-reviews/{id}", ("user", "BreakGlassReview", "r")),
    ("POST", "/staff/v1/break-glass-reviews/{id}", ("user", "BreakGlassReview", "u")),
    # correction requests (a custodian department's records officers)
    ("GET", "/staff/v1/corrections", ("user", "Task", "rs")),
    ("GET", "/staff/v1/corrections/{id}", ("user", "Task", "r")),
    ("POST", "/staff/v1/corrections/{id}/accept", ("user", "Task", "u")),
    ("POST", "/staff/v1/corrections/{id}/deny", ("user", "Task", "u")),
    # sharing requests (a department's clinicians ask a patient to share)
    ("POST", "/staff/v1/sharing-requests", ("user", "SharingRequest", "c")),
    ("GET", "/staff/v1/sharing-requests", ("user", "SharingRequest", "r")),
    ("GET", "/staff/v1/sharing-requests/{id}", ("user", "SharingRequest", "r")),
    # human measures (quality staff and privacy officers): a scope no wildcard covers
    ("GET", "/staff/v1/measures/consent", ("user", "Measure", "rs")),
    ("GET", "/staff/v1/measures/records", ("user", "Measure", "rs")),
    ("GET", "/staff/v1/measures/exchange", ("user", "Measure", "rs")),
    # reports: any member of staff reports and follows their own (user/Report.cr); a department's
    # quality staff triage (user/Report.rsu); user/Report is covered by no wildcard
    ("POST", "/staff/v1/reports", ("user", "Report", "c")),
    ("GET", "/staff/v1/reports/mine", ("user", "Report", "r")),
    ("GET", "/staff/v1/reports/follow/{ref}", ("user", "Report", "r")),
    ("GET", "/staff/v1/reports", ("user", "Report", "rs")),
    ("GET", "/staff/v1/reports/hard-words", ("user", "Report", "rs")),
    ("GET", "/staff/v1/reports/{id}", ("user", "Report", "rs")),
    ("POST", "/staff/v1/reports/{id}", ("user", "Report", "u")),
    # oversight: the equity report needs a scope no wildcard covers (services.common.smart)
    ("GET", "/equity/v1/report", ("system", "Equity", "r")),
]

#: (method, path pattern of ROUTES) -> the largest body the route takes, in bytes (the service
#: refuses the same, services.common.bodies); every other route takes bodies.SMALL.
BODY_LIMITS: dict[tuple[str, str], int] = {
    ("POST", "/fhir"): bodies.BUNDLE,
    ("PUT", "/fhir/{type}/{id}"): bodies.RESOURCE,
    ("POST", "/fhir/{type}"): bodies.RESOURCE,
    ("POST", "/staff/v1/corrections/{id}/accept"): bodies.RESOURCE,  # carries the corrected resource
}

_PARTS = {"type": FHIR_TYPE_PART, "id": FHIR_ID_PART, "vid": FHIR_ID_PART}


@dataclass(frozen=True)
class Match:
    """A request's upstream and the scope rule it needs, with {type} filled in."""

    upstream: str
    rule: Rule
    max_body: int = bodies.SMALL


def _compile(pattern: str) -> re.Pattern:
    regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{_PARTS.get(m.group(1), '[^/]+')})",
                   pattern)
    return re.compile(f"^{regex}/?$")


_COMPILED = [(method, _compile(pattern), rule, BODY_LIMITS.get((method, pattern), bodies.SMALL))
             for method, pattern, rule in ROUTES]


#: Paths the gateway serves itself, never forwarded whatever prefix of UPSTREAMS they fall
#: under: the staff admin API (gateway/admin/staff_api.py), as the gateway keeps staff accounts,
#: and the gateway's own human measures (gateway/admin/measures_api.py).
GATEWAY_OWN: tuple[str, ...] = ("/staff/v1/admin", "/staff/v1/measures/gateway")


def upstream_for(path: str) -> str | None:
    """Return the upstream service for PATH, or None when the gateway does not forward it."""
    if any(path == own or path.startswith(own + "/") for own in GATEWAY_OWN):
        return None
    for prefix, service in UPSTREAMS:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def rule_for(path: str) -> str:
    """Return the Flask URL rule (gateway.proxy.forward's blueprint) that serves PATH, for metrics labels."""
    for prefix, _service in UPSTREAMS:
        if path == prefix:
            return prefix
        if path.startswith(prefix + "/"):
            return prefix + "/<path:rest>"
    return "unmatched"


def _typed(rule: tuple[str, str, str], found: re.Match) -> tuple[str, str, str]:
    return (rule[0], found.group("type"), rule[2]) if "{type}" in rule[1] else rule


def match(method: str, path: str) -> Match | None:
    """Return the route for METHOD and PATH, or None when no row of ROUTES allows it."""
    service = upstream_for(path)
    if service is None:
        return None
    method = "GET" if method == "HEAD" else method
    for row_method, regex, rule, max_body in _COMPILED:
        if row_method != method:
            continue
        found = regex.fullmatch(path)  # not match: its $ would let a final newline through
        if found:
            if rule is not None and isinstance(rule[0], tuple):
                rule = tuple(_typed(r, found) for r in rule)
            elif rule is not None:
                rule = _typed(rule, found)
            return Match(service, rule, max_body)
    return None
