"""Compact JSON text (orjson, the json module where orjson refuses) and strict parsing."""
import json

import pytest

from services.common import jsontext


def _stdlib(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("value", [
    {"resourceType": "Patient", "name": [{"family": "Mejía", "given": ["José"]}]},
    {"text": "line\nbreak\ttab \"quoted\" back\\slash \u0001 \u2028 😀"},
    {"valueQuantity": {"value": 98.6, "unit": "°F"}, "n": [0, -1, 2147483647, 0.25, True, None]},
    {"nested": {"a": [{"b": {"c": []}}], "empty": {}}},
])
def test_compact_text_is_what_the_json_module_writes(value):
    assert jsontext.compact(value) == _stdlib(value)


def test_a_float_may_be_spelled_differently_but_reads_back_the_same():
    value = {"value": [1.5e-7, 1e22, 0.1 + 0.2, -0.0]}
    assert json.loads(jsontext.compact(value)) == value


def test_an_integer_beyond_64_bits_is_written_exactly_by_the_json_module():
    value = {"valueQuantity": {"value": 123456789012345678901234567890}}
    assert jsontext.compact(value) == '{"valueQuantity":{"value":123456789012345678901234567890}}'


@pytest.mark.parametrize("text", ['{"value": NaN}', '{"value": Infinity}', '[-Infinity]'])
def test_nan_and_infinities_are_not_json(text):
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_strict_loads_reads_everything_else_as_the_json_module_does():
    text = '{"a": 1.10, "b": 123456789012345678901234567890, "c": "\\u00e9"}'
    assert jsontext.loads(text) == json.loads(text)
