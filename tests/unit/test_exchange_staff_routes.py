"""The gateway forwards the exchange's staff routes to the exchange with the scope each needs, and
only the role that holds that scope passes (contracts/vocabulary.py ROLE_SCOPES)."""
import pytest

from contracts.vocabulary import ROLE_SCOPES
from gateway.proxy.routes import match
from services.common import smart

ROUTES = [
    ("GET", "/staff/v1/inbox", ("user", "Exchange", "r"), "clinician"),
    ("POST", "/staff/v1/requests", ("user", "Exchange", "c"), "clinician"),
    ("GET", "/staff/v1/requests/r-1", ("user", "Exchange", "r"), "clinician"),
    ("GET", "/staff/v1/break-glass-reviews", ("user", "BreakGlassReview", "rs"), "privacy-officer"),
    ("GET", "/staff/v1/break-glass-reviews/g-1", ("user", "BreakGlassReview", "r"), "privacy-officer"),
    ("POST", "/staff/v1/break-glass-reviews/g-1", ("user", "BreakGlassReview", "u"), "privacy-officer"),
]
#: Routes more than one role may use: (method, path, rule, the roles holding its scope).
SHARED_ROUTES = [
    ("GET", "/staff/v1/inbox/notices", ("user", "Communication", "rs"), {"clinician", "privacy-officer"}),
    ("GET", "/staff/v1/inbox/notices/n-1", ("user", "Communication", "r"), {"clinician", "privacy-officer"}),
]


@pytest.mark.parametrize("method, path, rule, role", ROUTES)
def test_each_staff_route_goes_to_the_exchange_and_only_its_role_holds_the_scope(method, path, rule, role):
    found = match(method, path)
    assert found is not None and found.upstream == "exchange" and found.rule == rule
    holders = {r for r, scopes in ROLE_SCOPES.items() if smart.allows(scopes, *rule)}
    assert holders == {role}
    if rule[1] == "BreakGlassReview":
        assert not smart.allows("user/*.cruds", *rule), "no wildcard covers a review"


@pytest.mark.parametrize("method, path, rule, roles", SHARED_ROUTES)
def test_the_departments_notices_go_to_the_exchange_for_its_clinicians_and_privacy_officers(method, path, rule, roles):
    found = match(method, path)
    assert found is not None and found.upstream == "exchange" and found.rule == rule
    assert {r for r, scopes in ROLE_SCOPES.items() if smart.allows(scopes, *rule)} == roles
    assert not smart.allows("patient/*.rs", *rule) and not smart.allows("system/*.rs", *rule)


@pytest.mark.parametrize("method, path", [
    ("POST", "/staff/v1/inbox/notices"), ("DELETE", "/staff/v1/inbox/notices/n-1"),
    ("DELETE", "/staff/v1/requests/r-1"), ("PUT", "/staff/v1/break-glass-reviews/g-1"),
    ("POST", "/staff/v1/inbox"), ("GET", "/staff/v1/break-glass-reviews/g-1/x")])
def test_other_methods_and_paths_under_the_staff_prefixes_are_not_forwarded(method, path):
    assert match(method, path) is None
