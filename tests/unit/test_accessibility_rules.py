"""Each accessibility rule passes a good payload and catches a bad one (contracts/PATIENT_FACING.md)."""
from __future__ import annotations

import pytest

from contracts.accessibility import RULES, check

EASY_EN = ("Your blood pressure was normal. Keep taking your pills each day, and call us "
           "if you feel dizzy.")
HARD_EN = ("The echocardiographic evaluation demonstrated moderate concentric left ventricular "
           "hypertrophy with preserved systolic function and impaired diastolic relaxation.")
EASY_ES = ("Su presión fue normal. Tome sus pastillas cada día y llámenos si se siente "
           "mareado.")
HARD_ES = ("La evaluación ecocardiográfica demostró hipertrofia ventricular izquierda concéntrica "
           "moderada con función sistólica preservada y relajación diastólica alterada.")


def rules_broken(payload, **kwargs) -> list[str]:
    return [v.rule for v in check(payload, **kwargs)]


def test_every_rule_names_its_threshold_and_standard():
    ids = [rule.id for rule in RULES]
    assert ids == ["language-tag", "plain-language", "coded-value-text", "quantity-units",
                   "display-date", "colour-only", "attachment-metadata", "media-transcript"]
    for rule in RULES:
        assert rule.threshold and rule.standard and rule.function.__doc__
        assert "Threshold" in rule.function.__doc__ and "Standard" in rule.function.__doc__


# -- language-tag ------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["en", "es", "es-MX", "es-419", "zh-Hant-TW"])
def test_a_valid_bcp47_tag_passes_in_the_header_and_in_the_body(tag):
    assert rules_broken({"language": tag, "locale": tag}, headers={"Content-Language": tag}) == []


@pytest.mark.parametrize("tag", ["english", "en_US", "", "xx-yy-zz", " es"])
def test_an_invalid_language_tag_is_a_violation(tag):
    violations = check({"items": [{"lang": tag}]})
    assert [(v.rule, v.path, v.observed) for v in violations] == [("language-tag", "$.items[0].lang", tag)]


def test_an_invalid_or_missing_content_language_header_is_a_violation():
    assert rules_broken({}, headers={"Content-Language": "spanish"}) == ["language-tag"]
    [missing] = check({}, headers={"Content-Type": "application/json"})
    assert (missing.rule, missing.path) == ("language-tag", "header:Content-Language")


def test_the_content_language_header_may_list_several_valid_tags():
    assert rules_broken({}, headers={"content-language": "en, es"}) == []


def test_a_language_envelope_object_is_not_mistaken_for_a_tag():
    envelope = {"language": {"requested": "pt", "used": "en", "fallback": True}}
    assert rules_broken(envelope) == []


# -- plain-language ------------------------------------------------------------------------

def test_plain_english_prose_passes_at_grade_8():
    assert rules_broken({"summary": EASY_EN}) == []


def test_english_prose_above_grade_8_is_a_violation_with_the_grade_observed():
    [violation] = check({"items": [{"summary": HARD_EN}]})
    assert violation.rule == "plain-language"
    assert violation.path == "$.items[0].summary"
    assert violation.observed > 8
    assert "Flesch-Kincaid" in violation.threshold
    assert "SC 3.1.5" in violation.standard


def test_plain_spanish_prose_passes_on_the_fernandez_huerta_scale():
    assert rules_broken({"summary": EASY_ES}, locale="es") == []


def test_hard_spanish_prose_is_scored_with_fernandez_huerta_not_the_english_grade():
    [violation] = check({"explanation": HARD_ES}, locale="es-MX")
    assert violation.rule == "plain-language"
    assert "Fernández-Huerta" in violation.threshold
    assert violation.observed < 60


def test_strings_under_twelve_words_are_exempt():
    short = "Echocardiographic hypertrophy with preserved systolic function."
    assert rules_broken({"summary": short}) == []


def test_languages_without_a_formula_are_not_scored():
    assert rules_broken({"summary": HARD_EN}, locale="fr") == []


def test_the_text_of_a_coded_value_is_not_prose_but_a_message_is():
    coded = {"coding": [{"system": "http://snomed.info/sct", "code": "1"}], "text": HARD_EN}
    assert rules_broken({"code": coded}) == []
    assert rules_broken({"language": {"used": "en", "message": HARD_EN}}) == ["plain-language"]


# -- coded-value-text ----------------------------------------------------------------------

def test_a_coding_with_a_display_and_a_concept_with_text_pass():
    payload = {"code": {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"},
               "category": {"coding": [{"system": "s", "code": "vital-signs"}], "text": "Vital signs"}}
    assert rules_broken(payload) == []


def test_a_concept_may_rely_on_the_display_of_one_of_its_codings():
    concept = {"coding": [{"system": "s", "code": "a"}, {"system": "s", "code": "b", "display": "Flu"}]}
    assert rules_broken({"code": concept}) == []


def test_a_bare_code_is_a_violation_reported_once_at_the_concept():
    payload = {"code": {"system": "http://loinc.org", "code": "8480-6"},
               "category": {"coding": [{"system": "s", "code": "vital-signs"}]}}
    assert [(v.rule, v.path) for v in check(payload)] == [
        ("coded-value-text", "$.code"), ("coded-value-text", "$.category")]


# -- quantity-units ------------------------------------------------------------------------

def test_a_quantity_with_a_spelled_out_display_passes():
    quantity = {"value": 120, "unit": "mm[Hg]", "code": "mm[Hg]",
                "display": "120 millimeters of mercury", "unit_display": "millimeters of mercury"}
    assert rules_broken({"value": quantity}) == []


def test_a_spanish_quantity_with_a_spelled_out_display_passes():
    quantity = {"value": 5, "unit": "mg", "display": "5 miligramos"}
    assert rules_broken({"dose": quantity}, locale="es") == []


def test_a_blood_pressure_pair_and_a_percentage_pass():
    assert rules_broken({"bp": {"value": 120, "unit": "mm[Hg]",
                                "display": "120/80 millimeters of mercury"},
                         "spo2": {"value": 97, "unit": "%", "display": "97%"}}) == []


@pytest.mark.parametrize("display", ["120 mmHg", "120 mm[Hg]", "5 mg", "70 kg", "24.5 kg/m2",
                                     "72 /min", "72 beats/min", "120mmHg", "5 mg."])
def test_a_display_with_a_unit_symbol_is_a_violation(display):
    [violation] = check({"value": {"value": 1, "unit": "x", "display": display}})
    assert (violation.rule, violation.path) == ("quantity-units", "$.value.display")


def test_a_quantity_without_a_unit_or_without_unit_words_is_a_violation():
    assert rules_broken({"v": {"value": 5, "code": "mg"}}) == ["quantity-units"]
    assert rules_broken({"v": {"value": 5, "unit": "mg", "unit_display": "mg"}}) == ["quantity-units"]
    assert rules_broken({"v": {"value": 5, "unit": "mg", "display": "5"}}) == ["quantity-units"]


def test_a_fhir_quantity_is_not_mistaken_for_a_coding():
    quantity = {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    assert rules_broken({"valueQuantity": quantity}) == []


# -- display-date --------------------------------------------------------------------------

def test_a_long_form_date_in_the_locale_passes():
    assert rules_broken({"date": {"iso": "2024-03-03", "display": "March 3, 2024"}}) == []
    assert rules_broken({"date": {"iso": "2024-03-03", "display": "3 de marzo de 2024"}},
                        locale="es") == []
    assert rules_broken({"at": {"iso": "2024-03-03T10:15:00Z",
                                "display": "March 3, 2024 at 10:15 AM"}}) == []


@pytest.mark.parametrize("display", ["2024-03-03", "03/03/2024", "3/3/24", "3.3.2024"])
def test_a_numeric_display_date_is_a_violation(display):
    [violation] = check({"date": {"iso": "2024-03-03", "display": display}})
    assert (violation.rule, violation.path) == ("display-date", "$.date.display")


def test_an_english_month_in_a_spanish_payload_is_a_violation():
    assert rules_broken({"date": {"iso": "2024-03-03", "display": "March 3, 2024"}},
                        locale="es") == ["display-date"]
    assert rules_broken({"date": {"iso": "2024-03-03", "display": "3 de marzo de 2024"}},
                        locale="en") == ["display-date"]


@pytest.mark.parametrize("locale", ["es-MX", "es_MX", "es-419"])
def test_regional_spanish_locales_use_spanish_month_names(locale):
    assert rules_broken({"date": {"iso": "2024-03-03", "display": "3 de marzo de 2024"}},
                        locale=locale) == []


def test_a_machine_date_that_is_not_iso_8601_is_a_violation():
    [violation] = check({"date": {"iso": "03/03/2024", "display": "March 3, 2024"}})
    assert (violation.rule, violation.path) == ("display-date", "$.date.iso")


def test_a_year_only_date_needs_no_month():
    assert rules_broken({"date": {"iso": "2024", "display": "2024"}}) == []


# -- colour-only ---------------------------------------------------------------------------

def test_a_coloured_status_with_words_passes():
    assert rules_broken({"status": {"status": "high", "colour": "red", "status_text": "Higher than normal"}}) == []
    assert rules_broken({"badge": {"color": "#d00", "label": "Urgent"}}) == []


def test_a_status_shown_only_by_colour_is_a_violation():
    assert rules_broken({"status": {"status": "high", "severity_colour": "red"}}) == ["colour-only"]
    [violation] = check({"badge": {"color": "#d00"}})
    assert (violation.rule, violation.path, violation.observed) == ("colour-only", "$.badge", "#d00")
    assert "SC 1.4.1" in violation.standard


# -- attachment-metadata and media-transcript ------------------------------------------------

def test_a_described_attachment_passes():
    attachment = {"contentType": "application/pdf", "language": "en",
                  "title": "Chest X-ray report, March 2024", "url": "Binary/1"}
    assert rules_broken({"content": [{"attachment": attachment}]}) == []


@pytest.mark.parametrize("title", ["scan_001.pdf", "IMG_2041", "", "   ", "report.PDF"])
def test_an_attachment_titled_with_a_file_name_or_nothing_is_a_violation(title):
    attachment = {"contentType": "application/pdf", "language": "en", "title": title}
    assert rules_broken({"attachment": attachment}) == ["attachment-metadata"]


def test_an_attachment_without_a_language_or_content_type_is_a_violation():
    assert rules_broken({"a": {"contentType": "application/pdf", "title": "Discharge letter"}}) \
        == ["attachment-metadata"]
    assert rules_broken({"a": {"contentType": "", "language": "es", "title": "Carta de alta"}},
                        locale="es") == ["attachment-metadata"]


def test_an_attachment_with_an_invalid_language_is_reported_by_the_language_rule():
    attachment = {"contentType": "application/pdf", "language": "english", "title": "Discharge letter"}
    assert rules_broken({"a": attachment}) == ["language-tag"]


def test_audio_and_video_with_a_transcript_pass():
    audio = {"contentType": "audio/mpeg", "language": "es", "title": "Mensaje de su médico",
             "transcript": "Hola. Sus análisis están bien."}
    video = {"contentType": "video/mp4", "language": "en", "title": "How to use your inhaler",
             "transcript": {"reference": "DocumentReference/42"}}
    assert rules_broken({"items": [audio, video]}) == []


def test_audio_or_video_without_a_transcript_is_a_violation():
    video = {"contentType": "video/mp4", "language": "en", "title": "How to use your inhaler"}
    [violation] = check({"video": video})
    assert (violation.rule, violation.path) == ("media-transcript", "$.video")
    assert "SC 1.2.1" in violation.standard


# -- a whole clinical item ------------------------------------------------------------------

def test_the_clinical_item_of_the_contract_passes_in_english():
    item = {"id": "1", "kind": "vital-sign", "title": "Blood pressure",
            "summary": "Your blood pressure was normal.",
            "value": {"value": 120, "unit": "mm[Hg]", "display": "120 millimeters of mercury"},
            "date": {"iso": "2024-03-03", "display": "March 3, 2024"},
            "status": {"code": "final", "status_text": "Final result"},
            "code": {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"},
            "source": {"department": "primary-care", "display": "Primary care"}}
    assert check({"items": [item], "next": None}, headers={"Content-Language": "en"}) == []


def test_a_violation_serialises_to_json_ready_values():
    [violation] = check({"badge": {"color": {"hex": "#d00"}}})
    doc = violation.to_dict()
    assert set(doc) == {"rule", "path", "message", "standard", "threshold", "observed"}
    assert isinstance(doc["observed"], str)
