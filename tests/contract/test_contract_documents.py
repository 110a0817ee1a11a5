"""The published documents: current with the code, and valid against their specifications."""
import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from contracts import __main__ as generator
from contracts import asyncapi, events, http, openapi

CONTRACTS = Path(generator.__file__).parent
ASYNCAPI_SCHEMA = json.loads((CONTRACTS / "spec" / "asyncapi-3.0.0.schema.json").read_text())


@pytest.mark.parametrize("name", sorted(generator.DOCUMENTS))
def test_the_committed_document_is_what_make_contracts_generates(name):
    committed = (CONTRACTS / name).read_text()
    assert committed == generator.render(generator.DOCUMENTS[name]), f"{name} is stale: run `make contracts`"


def test_the_openapi_document_is_valid_openapi_3_1():
    doc = yaml.safe_load((CONTRACTS / "openapi.yaml").read_text())
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)


def test_the_openapi_validator_does_catch_a_broken_document():
    doc = openapi.build()
    doc["paths"]["/oauth/jwks"]["get"]["responses"] = "nothing"
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(doc)


def test_the_asyncapi_document_is_valid_asyncapi_3():
    doc = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text())
    jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(doc)


def test_the_asyncapi_validator_does_catch_a_broken_document():
    doc = copy.deepcopy(asyncapi.build())
    doc["channels"]["PhrRecordsV1"]["address"] = 42
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(doc)


def test_every_topic_of_the_design_is_a_channel_with_its_dead_letter_topic():
    addresses = {c["address"] for c in asyncapi.build()["channels"].values()}
    for topic in ("phr.consent.v1", "phr.records.v1", "phr.exchange.v1", "phr.records.fetch.v1",
                  "phr.audit.v1", "phr.notify.v1"):
        assert {topic, f"{topic}.dlq"} <= addresses


def test_every_event_type_has_a_schema_a_producer_and_a_known_channel():
    addresses = {c["address"] for c in asyncapi.build()["channels"].values()}
    assert events.catalogue(), "the contract has no event types"
    for event_type, where in events.catalogue().items():
        assert events.schema(event_type)["title"] == event_type
        assert where["producer"] in ("consent", "records", "exchange", "gateway")
        assert where["topic"] in addresses


def test_every_operation_path_is_routed_by_the_gateway():
    from gateway.proxy import routes

    own = {"/.well-known/smart-configuration", "/oauth/jwks", "/oauth/revoked", "/oauth/token", "/oauth/introspect",
           "/oauth/revoke", "/accounts/v1/activation-codes", "/accounts/v1/activate",
           "/healthz", "/readyz", "/metrics", "/patient/v1/proxies", "/patient/v1/proxies/{id}",
           "/oauth/register", "/oauth/userinfo", "/patient/v1/apps", "/patient/v1/apps/{id}"}
    for op in http.operations():
        if op.path in own:
            continue
        concrete = op.path.replace("{type}", "Observation").replace("{id}", "abc")
        if op.path.startswith(("/admin/", "/staff/v1/admin/")) or op.path in routes.GATEWAY_OWN:  # the gateway's own
            assert routes.match(op.method.upper(), concrete) is None, f"{op.method} {op.path} is forwarded"
            continue
        assert routes.match(op.method.upper(), concrete) is not None, f"{op.method} {op.path} is not routed"


def test_every_operation_that_needs_a_token_may_answer_429_in_its_own_problem_shape():
    # The gateway counts each token holder's requests on every forwarded route (gateway/proxy/guard.py):
    # a conformance run that sends enough requests meets its 429 on any of them.
    paths = openapi.build()["paths"]
    for op in http.operations():
        if not op.scopes:
            continue
        responses = paths[op.path][op.method]["responses"]
        assert "429" in responses, f"{op.method} {op.path}"
        assert responses["429"]["content"].keys() == responses["401"]["content"].keys(), f"{op.method} {op.path}"
