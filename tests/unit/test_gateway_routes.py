"""The routing tables: upstream per prefix, scope rule per method and path, deny by default."""
from __future__ import annotations

import pytest

from gateway.proxy.routes import match, upstream_for


@pytest.mark.parametrize("path,service", [
    ("/fhir", "records"), ("/fhir/Patient/1", "records"), ("/patient/v1/me", "records"),
    ("/patient/v1/records", "records"), ("/patient/v1/entries", "records"),
    ("/patient/v1/amendments", "records"), ("/patient/v1/consents/c1", "consent"),
    ("/patient/v1/disclosures", "exchange"), ("/patient/v1/notifications", "exchange"),
    ("/consent/v1/decisions", "consent"), ("/exchange/v1/requests", "exchange"),
    ("/equity/v1/report", "exchange"),
    ("/fhir/Subscription", "exchange"), ("/fhir/Subscription/s-1", "exchange"),
    ("/fhir/SubscriptionTopic", "records"),
])
def test_each_prefix_goes_to_its_service(path, service):
    assert upstream_for(path) == service


@pytest.mark.parametrize("path", ["/patient/v1/proxies", "/patient/v1/messages", "/fhirx", "/oauth/token"])
def test_paths_outside_the_prefixes_are_not_forwarded(path):
    assert upstream_for(path) is None


@pytest.mark.parametrize("method,path,rule", [
    ("GET", "/fhir/metadata", None),
    # FHIR reads: a department's system/ scope or a patient's app's patient/ scope
    ("GET", "/fhir/Patient/p-1", (("system", "Patient", "r"), ("patient", "Patient", "r"))),
    ("HEAD", "/fhir/Patient/p-1", (("system", "Patient", "r"), ("patient", "Patient", "r"))),
    ("GET", "/fhir/Observation", (("system", "Observation", "s"), ("patient", "Observation", "s"))),
    ("GET", "/fhir/Condition/c-1/_history", (("system", "Condition", "r"), ("patient", "Condition", "r"))),
    ("POST", "/fhir", ("system", "*", "c")),
    ("POST", "/fhir/Observation", ("system", "Observation", "c")),
    ("PUT", "/fhir/Patient/p-1", ("system", "Patient", "u")),
    ("DELETE", "/fhir/Patient/p-1", ("system", "Patient", "d")),
    ("GET", "/patient/v1/me", ("patient", "Patient", "r")),
    ("POST", "/patient/v1/consents", ("patient", "Consent", "c")),
    ("DELETE", "/patient/v1/consents/c-1", ("patient", "Consent", "d")),
    ("POST", "/exchange/v1/requests", ("system", "Exchange", "c")),
    ("GET", "/exchange/v1/requests/r-1/bundle", ("system", "Exchange", "r")),
    ("POST", "/consent/v1/break-glass", ("system", "BreakGlass", "c")),
    ("GET", "/equity/v1/report", ("system", "Equity", "r")),
])
def test_each_route_needs_its_scope(method, path, rule):
    found = match(method, path)
    assert found is not None and found.rule == rule


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/exchange/v1/requests/r-1"), ("GET", "/fhir/patient/1"), ("PATCH", "/fhir/Patient/1"),
    ("GET", "/fhir/Patient/a/b/c"), ("POST", "/patient/v1/me"), ("GET", "/consent/v1/decisions"),
    ("GET", "/fhir/Patient/1\n"), ("GET", "/patient/v1/records\n"),  # a final newline (%0A) too
])
def test_a_route_not_in_the_table_is_not_matched(method, path):
    assert match(method, path) is None


@pytest.mark.parametrize("path", ["/staff/v1/admin", "/staff/v1/admin/staff", "/staff/v1/admin/invites",
                                  "/staff/v1/admin/staff/s-1/roles"])
def test_the_staff_admin_api_is_never_forwarded_even_under_a_forwarded_prefix(path, monkeypatch):
    from gateway.proxy import routes
    monkeypatch.setattr(routes, "UPSTREAMS", [("/staff/v1", "exchange"), *routes.UPSTREAMS])
    assert upstream_for(path) is None and match("GET", path) is None
    assert upstream_for("/staff/v1/inbox") == "exchange"
