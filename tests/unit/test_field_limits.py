"""The bounds of contracts.limits in the consent domain and the contract schemas."""
from datetime import datetime, timezone

import pytest

from contracts.limits import ID_MAX, REASON_MAX, TEXT_MAX
from contracts.schemas.consent import (BreakGlassRequestSchema, DecisionRequestSchema, PartySchema,
                                      SensitiveClaimSchema)
from contracts.schemas.patient_records import AmendmentRequestSchema
from services.consent.domain import model
from services.consent.entrypoints import wording
from tests.support.consent import directory

DIRECTORY = directory()

NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)


def _grant(grantee_id: str):
    return model.grant("p-1", model.Party("proxy", grantee_id), ["TREAT"], ["Observation"], None, None,
                       model.Party("patient", "p-1"), NOW, "en", lambda c: "text", departments=DIRECTORY)


def test_a_grantee_id_of_the_bound_is_taken_and_one_longer_is_refused_without_echoing_it():
    assert _grant("c" * ID_MAX).grantee.id == "c" * ID_MAX
    with pytest.raises(model.InvalidConsent) as refused:
        _grant("c" * (ID_MAX + 1))
    assert (refused.value.field, refused.value.value) == ("grantee.id", None)


@pytest.mark.parametrize("patient, reason, field", [
    ("p" * (ID_MAX + 1), "Unconscious", "patient"),
    ("p-1", "r" * (REASON_MAX + 1), "reason"),
])
def test_a_break_the_glass_claim_past_a_bound_is_refused_naming_the_field(patient, reason, field):
    with pytest.raises(model.InvalidConsent) as refused:
        model.break_glass(patient, "emergency", reason, NOW, departments=DIRECTORY)
    assert refused.value.field == field
    within = model.break_glass("p" * ID_MAX, "emergency", "r" * REASON_MAX, NOW, departments=DIRECTORY)
    assert within.reason == "r" * REASON_MAX


def test_a_sensitive_label_claimed_with_a_reason_past_the_bound_is_refused_naming_the_field():
    with pytest.raises(model.InvalidConsent) as refused:
        model.break_glass("p-1", "emergency", "Unconscious", NOW, departments=DIRECTORY,
                          sensitive=[{"label": "PSY", "reason": "r" * (REASON_MAX + 1)}])
    assert (refused.value.field, refused.value.value) == ("sensitive.reason", None)


def test_every_length_the_domain_refuses_has_words_in_the_consent_catalog():
    # domain.model.within words the reason from the number; the catalog must hold those words.
    assert wording.LENGTH_REASONS == [f"must be at most {ID_MAX} characters",
                                      f"must be at most {REASON_MAX} characters"]
    assert wording.t(wording.LENGTH_REASONS[0], "es") == f"debe tener como máximo {ID_MAX} caracteres"


@pytest.mark.parametrize("schema, body, field", [
    (PartySchema(), {"kind": "proxy", "id": "x" * (ID_MAX + 1)}, "id"),
    (DecisionRequestSchema(), {"patient": "x" * (ID_MAX + 1), "actor": "cardiology", "purpose": "TREAT",
                               "classes": ["Observation"]}, "patient"),
    (BreakGlassRequestSchema(), {"patient": "p-1", "reason": "x" * (REASON_MAX + 1)}, "reason"),
    (SensitiveClaimSchema(), {"label": "PSY", "reason": "x" * (REASON_MAX + 1)}, "reason"),
    (AmendmentRequestSchema(), {"record_id": "Observation/1", "what_is_wrong": "x" * (TEXT_MAX + 1),
                                "correction": "y"}, "what_is_wrong"),
])
def test_the_contract_schemas_declare_the_same_bounds(schema, body, field):
    assert field in schema.validate(body)
