"""The demographics phr.records.imported carries, read from the Patient resource."""
from services.records.domain.demographics import INTERPRETER_REQUIRED, of_import, of_patient


def _patient(**extra):
    return {"resourceType": "Patient", "id": "p-1", "gender": "female", "birthDate": "1950-03-04", **extra}


def _speaks(*codes, preferred=None):
    return [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": c}]},
             **({"preferred": True} if c == preferred else {})} for c in codes]


def test_the_preferred_language_wins_over_the_first_one():
    got = of_patient(_patient(communication=_speaks("en-US", "es", preferred="es")))
    assert got == {"language": "es", "birth_date": "1950-03-04", "sex": "female", "interpreter_needed": True}


def test_without_a_preferred_flag_the_first_language_is_taken():
    assert of_patient(_patient(communication=_speaks("en-US", "es")))["language"] == "en-US"


def test_the_interpreter_extension_overrides_the_language_rule():
    ext = [{"url": INTERPRETER_REQUIRED, "valueBoolean": False}]
    assert of_patient(_patient(communication=_speaks("vi"), extension=ext))["interpreter_needed"] is False
    ext = [{"url": INTERPRETER_REQUIRED, "valueBoolean": True}]
    assert of_patient(_patient(communication=_speaks("en"), extension=ext))["interpreter_needed"] is True


def test_an_english_speaker_or_a_silent_record_needs_no_interpreter_by_the_rule():
    assert of_patient(_patient(communication=_speaks("en-GB")))["interpreter_needed"] is False
    assert of_patient({"resourceType": "Patient"}) == {
        "language": None, "birth_date": None, "sex": None, "interpreter_needed": False}


def test_values_outside_their_vocabulary_are_left_out_rather_than_passed_on():
    got = of_patient(_patient(gender="f", birthDate="March 1950", communication=_speaks("en_US")))
    assert got["sex"] is None and got["birth_date"] is None and got["language"] is None


def test_an_import_without_a_patient_resource_says_nothing():
    assert of_import([{"resourceType": "Observation"}]) == {}
    assert of_import([{"resourceType": "Observation"}, _patient()])["sex"] == "female"
