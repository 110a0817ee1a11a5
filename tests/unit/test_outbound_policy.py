"""The one policy of every callback a department names (services/common/outbound.py): FHIR
subscription rest-hooks and revocation-receipt webhooks. Public addresses over https; inside
ones and plain http only where the allow list opens them; the platform's own services never."""
from __future__ import annotations

import pytest

from services.common.outbound import HostPolicy, literal_address_problem

PEERS = {"gateway": "http://127.0.0.1:8080", "exchange": "http://exchange.internal:8083"}
ALLOWING = HostPolicy.from_settings(("127.0.0.1", "10.1.2.0/24"), PEERS)


@pytest.mark.parametrize("url", [
    "https://93.184.216.34/hook", "https://hooks.example.org/phr", "http://127.0.0.1:9999/hook",
    "http://10.1.2.7/x", "http://hooks.example.org/a-name-is-judged-when-resolved"])
def test_what_the_policy_lets_through_at_registration(url):
    assert literal_address_problem(ALLOWING, url) is None


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/", "https://10.9.9.9/", "https://[::1]/", "https://192.168.0.1/",
    "http://93.184.216.34/plain-http",
    "http://127.0.0.1:8080/our-gateway", "http://exchange.internal:8083/our-exchange"])
def test_what_the_policy_refuses_at_registration(url):
    assert literal_address_problem(ALLOWING, url)


def test_at_send_an_address_resolved_is_judged_with_the_scheme():
    assert HostPolicy().address_problem("93.184.216.34", 443, "https") is None
    assert HostPolicy().address_problem("93.184.216.34", 80, "http"), "plain http only to allowed addresses"
    assert HostPolicy().address_problem("127.0.0.1", 9999, "https"), "nothing inside by default"
    assert ALLOWING.address_problem("127.0.0.1", 9999, "http") is None
    assert ALLOWING.address_problem("127.0.0.1", 8080, "http"), "never our own services"


def test_with_no_allowed_address_plain_http_to_a_name_is_refused_at_registration():
    # It could only ever be sent to an allowed address; with none, every send would be refused.
    assert literal_address_problem(HostPolicy(), "http://hooks.example.org/phr") == "The endpoint must use https."
    assert literal_address_problem(HostPolicy(), "https://hooks.example.org/phr") is None
