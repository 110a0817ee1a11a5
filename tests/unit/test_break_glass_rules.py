"""Break-the-glass releases what it names and redacts the rest; who may ask a decision about whom."""
from datetime import datetime, timedelta, timezone

import pytest

from services.consent.domain import model
from services.consent.domain.model import InvalidConsent, Party
from services.consent.service_layer import handlers
from tests.support.consent import directory

DIRECTORY = directory()

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
ALL_LABELS = ["GDIS", "HIV", "PSY", "SEX", "SUD"]


def _redact(decision) -> list[str]:
    (redact,) = [o for o in decision.obligations if o["type"] == "redact"]
    return redact["labels"]


def _review(obligations) -> dict:
    (review,) = [o for o in obligations if o["type"] == "review"]
    return review


def test_a_break_glass_permit_without_named_labels_redacts_every_sensitive_label():
    grant = model.break_glass("pat-1", "emergency", "Unconscious on arrival", NOW, departments=DIRECTORY)
    decision = model.decide([], [grant], "emergency", "ETREAT", ["Procedure", "Condition"], NOW,
                            departments=DIRECTORY)
    assert decision.decision == "permit" and decision.break_glass_id == grant.id
    assert _redact(decision) == ALL_LABELS
    assert _review(decision.obligations) == {"type": "review", "reason": "break-glass"}


def test_a_label_asked_for_under_break_glass_is_still_redacted_unless_the_claim_names_it():
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY)
    decision = model.decide([], [grant], "emergency", "ETREAT", ["Procedure", "SEX"], NOW, departments=DIRECTORY)
    assert decision.decision == "permit" and "SEX" in _redact(decision)


def test_a_label_named_with_its_own_reason_is_released_and_the_claim_is_reviewed_first():
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY,
                              sensitive=[{"label": "SEX", "reason": " Suspected ectopic pregnancy "}])
    assert grant.sensitive == (model.SensitiveClaim("SEX", "Suspected ectopic pregnancy"),)
    decision = model.decide([], [grant], "emergency", "ETREAT", ["Procedure"], NOW, departments=DIRECTORY)
    assert _redact(decision) == ["GDIS", "HIV", "PSY", "SUD"]
    assert _review(decision.obligations) == {"type": "review", "reason": "break-glass",
                                             "priority": "high", "labels": ["SEX"]}


def test_a_claim_naming_every_label_still_says_what_it_redacts():
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY,
                              sensitive=[{"label": x, "reason": "why"} for x in ALL_LABELS])
    assert grant.obligations()[0] == {"type": "redact", "labels": []}


def test_a_consent_for_part_of_the_request_does_not_let_break_glass_release_what_it_withholds():
    # The hole this closes: the consent covers Procedure only (sensitive labels withheld); the
    # request adds Condition, so break-the-glass answers, and it must redact them too.
    consent = model.grant("pat-1", Party("department", "emergency"), ["ETREAT"], ["Procedure"], None, None,
                          Party("patient", "pat-1"), NOW, "en", lambda c: "text", departments=DIRECTORY)
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY)
    decision = model.decide([consent], [grant], "emergency", "ETREAT", ["Procedure", "Condition"], NOW,
                            departments=DIRECTORY)
    assert decision.break_glass_id == grant.id and _redact(decision) == ALL_LABELS


@pytest.mark.parametrize("sensitive, value", [
    ("SEX", None), (["SEX"], None), ([{"label": "XYZ", "reason": "r"}], "XYZ"),
    ([{"label": "SEX"}], "SEX"), ([{"label": "SEX", "reason": "  "}], "SEX"),
    ([{"label": "SEX", "reason": "a"}, {"label": "SEX", "reason": "b"}], "SEX")])
def test_a_sensitive_label_needs_a_known_code_named_once_with_its_own_reason(sensitive, value):
    with pytest.raises(InvalidConsent) as err:
        model.break_glass("pat-1", "emergency", "Unconscious", NOW, sensitive=sensitive, departments=DIRECTORY)
    assert err.value.field == "sensitive" and err.value.value == value


@pytest.mark.parametrize("minutes", [0, 241, 1440, True, "60", 60.0])
def test_a_claim_lasts_from_one_minute_to_four_hours(minutes):
    with pytest.raises(InvalidConsent) as err:
        model.break_glass("pat-1", "emergency", "Unconscious", NOW, minutes, departments=DIRECTORY)
    assert err.value.field == "minutes"


def test_a_claim_lasts_an_hour_unless_it_says_otherwise():
    one_hour = model.break_glass("pat-1", "emergency", "x", NOW, departments=DIRECTORY)
    four_hours = model.break_glass("pat-1", "emergency", "x", NOW, 240, departments=DIRECTORY)
    assert (one_hour.expires_at, four_hours.expires_at) == (NOW + timedelta(minutes=60), NOW + timedelta(hours=4))


EXCHANGE = ("exchange-service",)


@pytest.mark.parametrize("claims, named, expected", [
    ({"dept": "research", "client_id": "research"}, None, "research"),
    ({"dept": "research", "client_id": "research"}, "research", "research"),
    ({"client_id": "exchange-service"}, "emergency", "emergency"),
])
def test_a_department_asks_about_itself_and_the_exchange_service_about_any(claims, named, expected):
    assert handlers.actor_for(claims, named, EXCHANGE) == expected


@pytest.mark.parametrize("claims, exchange", [
    ({"dept": "research", "client_id": "research"}, EXCHANGE),
    ({"dept": "research", "client_id": "exchange-service"}, EXCHANGE),  # a department named like it
    ({"client_id": "exchange-service", "patient": "pat-1"}, EXCHANGE),
    ({"client_id": "another-service"}, EXCHANGE),
    ({"client_id": "exchange-service"}, ()),  # consent not told who the exchange service is: nobody
])
def test_nobody_else_may_ask_about_another_department(claims, exchange):
    with pytest.raises(handlers.NotYours):
        handlers.actor_for(claims, "emergency", exchange)


def test_consent_trusts_the_exchange_client_unless_told_a_list():
    from services.common.config import load_settings

    assert load_settings("consent", {"EXCHANGE_CLIENT_ID": "exchange-service"}).decision_clients == ("exchange-service",)
    listed = load_settings("consent", {"EXCHANGE_CLIENT_ID": "x", "CONSENT_DECISION_CLIENTS": "ex-1, ex-2"})
    assert listed.decision_clients == ("ex-1", "ex-2")
    assert load_settings("consent", {}).decision_clients == ()
