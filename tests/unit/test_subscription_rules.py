"""The rules of subscriptions: what a Subscription may ask, where notifications may go, what a
notification names; and consent's start window that keeps revocation ahead of them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.consent.domain.model import Decision, Party
from services.consent.service_layer import handlers as consent
from services.exchange.domain import subscriptions as subs

NOW = datetime(2026, 12, 6, 7, 0, tzinfo=timezone.utc)


def resource(**change) -> dict:
    return {"resourceType": "Subscription", "status": "requested", "reason": "Follow-up",
            "criteria": "Observation?patient=Patient/p-1",
            "channel": {"type": "rest-hook", "endpoint": "https://hooks.example.org/phr",
                        "payload": "application/fhir+json"}, **change}


def test_a_criteria_based_rest_hook_subscription_is_read_into_its_spec():
    spec = subs.parse(resource())
    assert (spec.patient, spec.resource_type, spec.endpoint, spec.payload) == (
        "p-1", "Observation", "https://hooks.example.org/phr", subs.FHIR_JSON)
    assert subs.parse(resource(criteria="Condition?patient=p-2")).patient == "p-2"


def test_no_payload_means_empty_notifications_and_full_resources_are_refused():
    channel = {"type": "rest-hook", "endpoint": "https://hooks.example.org/phr"}
    assert subs.parse(resource(channel=channel)).payload is None
    full = {**channel, "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": subs.PAYLOAD_CONTENT, "valueCode": "full-resource"}]}}
    with pytest.raises(subs.Invalid) as refused:
        subs.parse(resource(channel=full))
    assert refused.value.issues[0][0] == "Subscription.channel.payload"


def test_every_wrong_element_is_named_at_once():
    with pytest.raises(subs.Invalid) as refused:
        subs.parse({"resourceType": "Subscription", "criteria": "Patient?patient=p-1",
                    "channel": {"type": "email", "endpoint": "mailto:a@b.org"}})
    named = {expression for expression, _message, _code in refused.value.issues}
    assert named == {"Subscription.reason", "Subscription.criteria", "Subscription.channel.type",
                     "Subscription.channel.endpoint"}


@pytest.mark.parametrize("url,ok", [
    ("https://hooks.example.org/phr", True), ("http://hooks.example.org:8443/x?y=1", True),
    ("ftp://hooks.example.org/", False), ("https://u:p@hooks.example.org/", False),
    ("https:///nohost", False), ("https://hooks.example.org/#frag", False), ("javascript:alert(1)", False),
])
def test_an_endpoint_is_an_http_or_https_url_without_credentials(url, ok):
    assert (subs.endpoint_problem(url) is None) == ok


def test_the_policy_allows_public_addresses_and_only_the_inside_ones_it_names_never_our_services():
    policy = subs.HostPolicy.from_settings(("127.0.0.1", "10.1.2.0/24"), {
        "gateway": "http://127.0.0.1:8080", "consent": "http://127.0.0.1:8081"})
    assert policy.address_problem("93.184.216.34", 443) is None
    assert policy.address_problem("127.0.0.1", 9999) is None and policy.address_problem("10.1.2.7", 80) is None
    for address, port in (("127.0.0.1", 8080), ("127.0.0.1", 8081), ("10.9.9.9", 80), ("169.254.169.254", 80),
                          ("::1", 80), ("192.168.1.1", 80), ("0.0.0.0", 80)):
        assert policy.address_problem(address, port), (address, port)
    assert subs.HostPolicy().address_problem("127.0.0.1", 9999), "nothing inside by default"
    assert policy.host_problem("127.0.0.1", 8080) and policy.host_problem("hooks.example.org", 443) is None


def _sub(payload=subs.FHIR_JSON) -> subs.Subscription:
    spec = subs.parse(resource())
    spec = subs.Spec(spec.patient, spec.resource_type, spec.criteria, spec.endpoint, payload)
    return subs.Subscription("s-1", "cardiology", spec, subs.ACTIVE, NOW, NOW)


def test_a_notification_names_ids_of_its_type_and_none_a_consent_keeps_back():
    written = [{"type": "Observation", "id": "o-1", "labels": []},
               {"type": "Observation", "id": "o-2", "labels": ["PSY"]},
               {"type": "Condition", "id": "c-1", "labels": []}]
    assert subs.matching(_sub(), written, redact=["PSY", "HIV"]) == ["o-1"]
    assert subs.matching(_sub(), written, redact=[]) == ["o-1", "o-2"]
    bundle = subs.notification(_sub(), "https://phr.example.org/fhir", ["o-1"], 3, NOW)
    assert bundle["type"] == "history" and bundle["entry"][0]["resource"]["resourceType"] == "Parameters"
    assert [e["fullUrl"] for e in bundle["entry"][1:]] == ["https://phr.example.org/fhir/Observation/o-1"]
    assert all("resource" not in e for e in bundle["entry"][1:])


def test_a_stored_subscription_never_shows_its_header_values():
    sub = _sub()
    sub.spec = subs.Spec(**{**sub.spec.__dict__, "headers": ("Authorization: Bearer s3cret",)})
    assert subs.as_resource(sub)["channel"]["header"] == ["Authorization: ***"]


def test_a_permit_says_how_long_it_may_be_acted_on_and_a_deny_says_nothing():
    permit = consent.with_start_window(Decision("permit", "c-1", 1), 300)
    assert permit.as_dict()["start_within_ms"] == 150
    assert "start_within_ms" not in consent.with_start_window(Decision("deny"), 300).as_dict()
    assert consent.with_start_window(Decision("permit", "c-1", 1), 0).as_dict()["start_within_ms"] == 0


class _Consent:
    def __init__(self, kind):
        self.grantee = Party(kind, "x")


def test_a_revoke_of_a_departments_consent_waits_its_settle_time_and_a_proxys_does_not():
    slept = []
    consent.settle_revocation(_Consent("department"), 300, slept.append)
    consent.settle_revocation(_Consent("proxy"), 300, slept.append)
    consent.settle_revocation(_Consent("department"), 0, slept.append)
    assert slept == [0.3]


def test_a_subscription_past_its_end_is_over():
    spec = subs.parse(resource(end="2026-12-06T06:59:59Z"))
    assert subs.ended(spec, NOW) and not subs.ended(subs.parse(resource(end="2026-12-06T08:30:00+01:00")), NOW)
    assert not subs.ended(subs.parse(resource()), NOW)
