"""The decision rule: deny by default, permit on a consent in force, redact what it does not name."""
from datetime import datetime, timedelta, timezone

import pytest

from services.consent.domain import model
from services.consent.domain.model import InvalidConsent, Party
from tests.support.consent import directory

DIRECTORY = directory()

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
PATIENT = Party("patient", "pat-1")


def _consent(grantee="cardiology", purposes=("TREAT",), classes=("Observation",), end=None,
             start=None, notify=False, now=NOW):
    return model.grant("pat-1", Party("department", grantee), list(purposes), list(classes),
                       start, end, PATIENT, now, "en", lambda c: "text", notify, departments=DIRECTORY)


def _ask(consents, actor="cardiology", purpose="TREAT", classes=("Observation",), grants=(), now=NOW,
         departments=DIRECTORY):
    return model.decide(consents, list(grants), actor, purpose, list(classes), now, departments=departments)


def test_with_no_consent_the_answer_is_deny():
    assert _ask([]).as_dict() == {"decision": "deny", "consent_id": None,
                                  "consent_version": None, "obligations": []}


def test_a_matching_consent_permits_with_audit_and_redacts_every_label_it_does_not_name():
    consent = _consent(classes=("Observation", "PSY"))
    decision = _ask([consent], classes=("Observation", "PSY", "HIV"))
    assert decision.decision == "permit" and decision.consent_id == consent.id
    assert decision.consent_version == 1
    assert {"type": "redact", "labels": ["GDIS", "HIV", "SEX", "SUD"]} in decision.obligations
    assert {"type": "audit"} in decision.obligations


def test_a_consent_that_names_every_label_asks_for_no_redaction():
    consent = _consent(classes=("Observation", "PSY", "SUD", "HIV", "SEX", "GDIS"))
    assert [o["type"] for o in _ask([consent]).obligations] == ["audit"]


def test_a_consent_that_asks_for_it_adds_a_notify_obligation():
    decision = _ask([_consent(notify=True)])
    assert {"type": "notify", "target": "patient"} in decision.obligations


@pytest.mark.parametrize("change", [dict(actor="research"), dict(purpose="HRESCH"),
                                    dict(classes=("Observation", "Condition"))])
def test_another_department_purpose_or_resource_type_is_denied(change):
    assert _ask([_consent()], **change).decision == "deny"


def test_a_revoked_consent_never_permits():
    consent = _consent()
    assert consent.revoke(PATIENT, NOW)
    assert _ask([consent]).decision == "deny"


def test_a_consent_past_its_end_is_denied_before_any_sweep_marks_it():
    consent = _consent(end=NOW + timedelta(hours=1))
    assert consent.status == "active"
    assert _ask([consent], now=NOW + timedelta(hours=1)).decision == "deny"
    assert consent.status_at(NOW + timedelta(hours=1)) == "expired"


def test_a_consent_that_has_not_started_yet_is_denied():
    consent = _consent(start=NOW + timedelta(days=1))
    assert _ask([consent]).decision == "deny"


def test_revoking_twice_changes_nothing_the_second_time():
    consent = _consent()
    assert consent.revoke(PATIENT, NOW) and consent.version == 2
    assert not consent.revoke(PATIENT, NOW) and consent.version == 2


def test_expiry_bumps_the_version_once():
    consent = _consent(end=NOW + timedelta(minutes=1))
    assert not consent.expire(NOW)
    assert consent.expire(NOW + timedelta(minutes=2)) and consent.version == 2
    assert not consent.expire(NOW + timedelta(minutes=3))


def test_break_glass_permits_emergency_treatment_for_its_department_and_names_the_grant():
    grant = model.break_glass("pat-1", "emergency", "Unconscious on arrival", NOW, departments=DIRECTORY)
    assert grant.expires_at == NOW + timedelta(minutes=60)
    decision = _ask([], actor="emergency", purpose="ETREAT", grants=[grant])
    assert decision.decision == "permit" and decision.break_glass_id == grant.id
    types = [o["type"] for o in decision.obligations]
    assert "notify" in types and "review" in types and "audit" in types
    assert decision.as_dict()["basis"] == "break-glass"


def test_break_glass_does_not_cover_another_purpose_or_outlive_its_window():
    grant = model.break_glass("pat-1", "emergency", "Unconscious", NOW, departments=DIRECTORY)
    assert _ask([], actor="emergency", purpose="TREAT", grants=[grant]).decision == "deny"
    later = NOW + timedelta(minutes=61)
    assert _ask([], actor="emergency", purpose="ETREAT", grants=[grant], now=later).decision == "deny"


@pytest.mark.parametrize("reason", [None, "", "   ", 5])
def test_break_glass_without_a_written_reason_is_refused(reason):
    with pytest.raises(InvalidConsent) as err:
        model.break_glass("pat-1", "emergency", reason, NOW, departments=DIRECTORY)
    assert err.value.field == "reason"


@pytest.mark.parametrize("change, field", [
    (dict(grantee="dermatology"), "grantee"), (dict(purposes=("TREATMENT",)), "purposes"),
    (dict(classes=("XYZ",)), "classes"), (dict(purposes=()), "purposes"),
    (dict(end=NOW - timedelta(days=1)), "period")])
def test_an_unknown_department_purpose_or_label_names_the_field(change, field):
    with pytest.raises(InvalidConsent) as err:
        _consent(**change)
    assert err.value.field == field


def test_the_consent_text_is_kept_with_its_sha256():
    consent = model.grant("pat-1", Party("department", "cardiology"), ["TREAT"], ["Observation"],
                          None, None, PATIENT, NOW, "en", lambda c: "I allow it.", departments=DIRECTORY)
    import hashlib
    assert consent.text == "I allow it."
    assert consent.text_sha256 == hashlib.sha256(b"I allow it.").hexdigest()
