"""The CapabilityStatement states what the records app really serves, and is a valid R4 one."""
import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from flask import Flask

from services.records.entrypoints import capability


def _statement(records) -> dict:
    client, _ = records
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200 and resp.content_type == "application/fhir+json"
    return resp.get_json()


def test_the_statement_lists_every_fhir_route_of_the_app_as_an_interaction(records):
    client, _ = records
    body = _statement(records)
    served = {(lvl, code) for lvl, code, _ in capability.served(client.application.url_map.iter_rules())}
    rest = body["rest"][0]
    assert {("system", i["code"]) for i in rest.get("interaction", [])} == {s for s in served if s[0] == "system"}
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    assert {("type", i["code"]) for i in observation["interaction"]} == {s for s in served if s[0] == "type"}
    assert {"read", "vread", "update", "create", "search-type", "history-instance"} <= {
        i["code"] for i in observation["interaction"]}


def test_a_fhir_route_without_a_statement_entry_fails_the_build(records):
    client, _ = records
    app = Flask("probe")
    for rule in client.application.url_map.iter_rules():
        if rule.rule.startswith("/fhir"):
            app.add_url_rule(rule.rule, rule.endpoint, lambda **kw: "", methods=rule.methods)
    assert capability.served(app.url_map.iter_rules())  # the real routes all have an entry
    app.add_url_rule("/fhir/<resource_type>/$everything", "everything", lambda **kw: "")
    with pytest.raises(capability.UndeclaredRoute, match=r"\$everything"):
        capability.served(app.url_map.iter_rules())


def test_the_statement_is_a_valid_capability_statement_with_implementation_and_software(records):
    body = _statement(records)
    CapabilityStatement.model_validate(body)  # the models the project validates resources with
    # cpb-2: description, software or implementation; cpb-14: an instance names its implementation
    assert body["kind"] == "instance" and body["implementation"]["description"] and body["software"]["name"]
    assert body["fhirVersion"] == capability.FHIR_VERSION


def test_the_statement_lists_consent_and_task_and_the_search_parameters_the_server_takes(records):
    resources = {r["type"]: r for r in _statement(records)["rest"][0]["resource"]}
    assert resources["Consent"]["interaction"] == [{"code": "search-type"}]
    assert "Task" in resources
    observation = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"patient", "code", "category", "date", "_include", "_summary", "_elements"} <= observation
    assert "Observation:subject" in resources["Observation"]["searchInclude"]
    assert "Observation:encounter" in resources["Encounter"]["searchRevInclude"]


def test_the_statement_names_the_smart_endpoints_of_the_gateway(records):
    client, _ = records
    security = _statement(records)["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    issuer = client.application.extensions["records"].settings.issuer
    assert uris == {"authorize": f"{issuer}/oauth/authorize", "token": f"{issuer}/oauth/token",
                    "register": f"{issuer}/oauth/register"}


def test_the_statement_lists_the_subscription_routes_the_exchange_serves(records, service_apps):
    """/fhir/Subscription is the exchange's (gateway/proxy/routes.py): every /fhir route it serves
    has its interaction in the records' statement, and the statement lists no other. (The
    exchange on a database of its own: two services' migrations on one database would share
    Alembic's version table.)"""
    exchange = service_apps.exchange()
    served = {(method, rule.rule) for rule in exchange.app.url_map.iter_rules() if rule.rule.startswith("/fhir")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == set(capability.SUBSCRIPTION_INTERACTIONS)
    resources = {r["type"]: r for r in _statement(records)["rest"][0]["resource"]}
    assert {i["code"] for i in resources["Subscription"]["interaction"]} == set(
        capability.SUBSCRIPTION_INTERACTIONS.values())
