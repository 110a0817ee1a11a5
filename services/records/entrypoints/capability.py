"""The FHIR CapabilityStatement (``GET /fhir/metadata``), built from the routes the app really serves.

Every ``/fhir`` route of the Flask app maps to one FHIR interaction (INTERACTIONS); a route with
no row makes ``statement`` fail, so a route cannot be added without the statement saying so
(tests/integration/test_records_capability_statement.py). Search parameters come from the
search module that parses them. Consent is served by the consent service at the same origin
(gateway/proxy/routes.py, UPSTREAMS), so it is listed here as CONSENT; so is the exchange's
Subscription (SUBSCRIPTION).
"""
from __future__ import annotations

import importlib.metadata

from services.records.domain.search import CATEGORY_TYPES, CODE_ELEMENTS, DATE_ELEMENTS, RESULT_PARAMS

#: FHIR R4 version the statement states (fhirVersion); the validation models follow it.
FHIR_VERSION = "4.0.1"
#: The types the records service serves: the searchable ones and those stored as parts of a
#: record (a correction request's Task, a statement of disagreement's DocumentReference).
TYPES = ("AllergyIntolerance", "CarePlan", "Claim", "Condition", "DiagnosticReport", "DocumentReference",
         "Encounter", "ExplanationOfBenefit", "Immunization", "Medication", "MedicationRequest", "Observation",
         "Organization", "Patient", "Practitioner", "Procedure", "Task")
#: (method, Flask rule) -> (level, FHIR interaction code): "system" or "type" level.
INTERACTIONS: dict[tuple[str, str], tuple[str, str] | None] = {
    ("GET", "/fhir/metadata"): None,  # capabilities: this statement itself
    ("POST", "/fhir"): ("system", "transaction"),
    ("GET", "/fhir/<resource_type>"): ("type", "search-type"),
    ("POST", "/fhir/<resource_type>"): ("type", "create"),
    ("GET", "/fhir/<resource_type>/<rid>"): ("type", "read"),
    ("PUT", "/fhir/<resource_type>/<rid>"): ("type", "update"),
    ("DELETE", "/fhir/<resource_type>/<rid>"): ("type", "delete"),
    ("GET", "/fhir/<resource_type>/<rid>/_history"): ("type", "history-instance"),
    ("GET", "/fhir/<resource_type>/<rid>/_history/<vid>"): ("type", "vread"),
}
PARAM_TYPES = {"patient": "reference", "_since": "date", "date": "date", "code": "token",
               "category": "token", "identifier": "token", "_count": "number", "_include": "special",
               "_revinclude": "special", "_summary": "token", "_elements": "token"}
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
#: The consent service's FHIR Consent search (services/consent, contracts/operations/consent.py).
CONSENT = {"type": "Consent", "interaction": [{"code": "search-type"}],
           "searchParam": [{"name": "patient", "type": "reference"}]}
#: The exchange's FHIR Subscription routes (services/exchange/entrypoints/subscriptions.py), served
#: at the same origin (gateway/proxy/routes.py, UPSTREAMS): (method, Flask rule) -> interaction.
#: tests/integration/test_records_capability_statement.py holds the exchange's /fhir routes to it.
SUBSCRIPTION_INTERACTIONS = {
    ("POST", "/fhir/Subscription"): "create",
    ("GET", "/fhir/Subscription/<sub_id>"): "read",
    ("GET", "/fhir/Subscription"): "search-type",
    ("DELETE", "/fhir/Subscription/<sub_id>"): "delete",
}
#: R4 criteria-based rest-hook subscriptions with id-only notifications (README, "Subscriptions").
SUBSCRIPTION = {"type": "Subscription",
                "profile": "http://hl7.org/fhir/StructureDefinition/Subscription",
                "documentation": "One patient's new or changed records of one type "
                                 "(criteria Type?patient=Patient/id), rest-hook channel, id-only payload "
                                 "(application/fhir+json with the backport-payload-content extension id-only) "
                                 "or none. Notifications go out only while the patient's consent lets the "
                                 "department see that type, and each is in the disclosure ledger.",
                "interaction": [{"code": code} for code in dict.fromkeys(SUBSCRIPTION_INTERACTIONS.values())],
                "searchParam": [{"name": "patient", "type": "reference"}, {"name": "_count", "type": "number"}]}


class UndeclaredRoute(LookupError):
    """A /fhir route the statement has no interaction for."""


def served(rules) -> list[tuple[str, str, str]]:
    """Return (level, interaction, rule) of every /fhir route in RULES (a Flask url_map's)."""
    found = []
    for rule in rules:
        if not (rule.rule == "/fhir" or rule.rule.startswith("/fhir/")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) not in INTERACTIONS:
                raise UndeclaredRoute(f"{method} {rule.rule} is served but not in the CapabilityStatement")
            interaction = INTERACTIONS[(method, rule.rule)]
            if interaction is not None:
                found.append((*interaction, rule.rule))
    return found


def search_params(rtype: str) -> list[str]:
    """The search parameters search.parse_query takes for RTYPE."""
    names = ["patient", "_since", "_count", "identifier"]
    names += ["date"] if rtype in DATE_ELEMENTS else []
    names += ["code"] if rtype in CODE_ELEMENTS else []
    names += ["category"] if rtype in CATEGORY_TYPES else []
    return names + list(RESULT_PARAMS)


def statement(rules, issuer: str, includes: dict[str, list[str]], revincludes: dict[str, list[str]]) -> dict:
    """Build the CapabilityStatement of the routes RULES; ISSUER is the gateway's public URL (the
    same Settings.issuer its /.well-known/smart-configuration states); INCLUDES and REVINCLUDES
    the _include/_revinclude values per type."""
    interactions = served(rules)
    type_level = [code for level, code, _ in interactions if level == "type"]
    system_level = [code for level, code, _ in interactions if level == "system"]
    resources = []
    for rtype in TYPES:
        entry = {"type": rtype, "versioning": "versioned-update", "readHistory": True,
                 "updateCreate": False, "conditionalCreate": "create" in type_level,
                 "conditionalUpdate": False, "conditionalDelete": "not-supported",
                 "interaction": [{"code": code} for code in type_level]}
        if "search-type" in type_level:
            entry["searchParam"] = [{"name": p, "type": PARAM_TYPES[p]} for p in search_params(rtype)]
            if includes.get(rtype):
                entry["searchInclude"] = includes[rtype]
            if revincludes.get(rtype):
                entry["searchRevInclude"] = revincludes[rtype]
        resources.append(entry)
    resources.append(CONSENT)
    resources.append(SUBSCRIPTION)
    resources.sort(key=lambda r: r["type"])
    base = issuer.rstrip("/")
    return {
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "date": "2026-12-06", "publisher": "PHR", "fhirVersion": FHIR_VERSION, "format": ["json"],
        "software": {"name": "phr-records", "version": _version()},
        "implementation": {"description": "Personal health record: FHIR API of the records service",
                           "url": f"{base}/fhir"},
        "rest": [{
            "mode": "server",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}]}],
                "description": "OAuth 2.0 with SMART App Launch 2 scopes: system/ for departments, "
                               "patient/ (read only) for a patient's own apps.",
                "extension": [{"url": OAUTH_URIS, "extension": [
                    {"url": "authorize", "valueUri": f"{base}/oauth/authorize"},
                    {"url": "token", "valueUri": f"{base}/oauth/token"},
                    {"url": "register", "valueUri": f"{base}/oauth/register"}]}]},
            "resource": resources,
            "interaction": [{"code": code} for code in system_level],
        }],
    }


def _version() -> str:
    try:
        return importlib.metadata.version("phr-exchange")
    except importlib.metadata.PackageNotFoundError:
        return "0"
