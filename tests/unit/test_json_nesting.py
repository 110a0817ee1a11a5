"""services.common.jsontext: nesting deeper than MAX_DEPTH is refused before parsing, cheaply,
and brackets inside strings do not count."""
import json
from pathlib import Path

import pytest

from services.common import jsontext
from services.common.jsontext import MAX_DEPTH, TooDeep, depth, loads, too_deep

SYNTHEA = Path(__file__).parents[1] / "data" / "synthea-r4"


@pytest.mark.parametrize("text, expected", [
    (b"1", 0), (b"[]", 1), (b"{}", 1), (b'{"a":[{"b":[]}]}', 4), (b"[[],[[]],[]]", 3),
    (b'["[[[[", "]]]]]]"]', 1), (b'["\\"[[[", "\\\\", [[]]]', 3), (b'{"a\\\\":"[","b":["\\"]"]}', 2),
])
def test_depth_counts_only_brackets_outside_strings(text, expected):
    assert depth(text) == expected
    assert depth(text) == _walk(json.loads(text))


def _walk(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_walk, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_walk, value), default=0)
    return 0


def test_the_deepest_allowed_document_loads_and_one_level_more_is_refused():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(TooDeep):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[" * 100_000, '{"a":' * 50_000])
def test_a_document_past_the_recursion_limit_is_too_deep_not_a_recursion_error(text):
    with pytest.raises(TooDeep):
        loads(text)
    with pytest.raises(ValueError):  # what the body loaders catch
        loads(text.encode())


def test_strings_full_of_brackets_are_not_nesting():
    text = json.dumps({"note": "[" * 10_000, "other": ["{" * 500, "]" * 20]})
    assert loads(text)["note"] == "[" * 10_000


def test_every_synthea_bundle_is_eleven_deep_at_most():
    # What the scan costs next to the parse is a speed question, measured by the import rows of
    # `make bench`, not timed here: a loaded machine made a timed bound fail at random.
    for path in SYNTHEA.glob("*.json"):
        raw = path.read_bytes()
        assert depth(raw) == _walk(json.loads(raw)) <= 11


def test_a_small_body_is_not_scanned():
    # Fewer brackets than MAX_DEPTH cannot nest deeper: the decision route's bodies pay two counts.
    assert not too_deep(b'{"patient":"p","purpose":"TREAT","classes":["Observation"]}')
    assert jsontext.loads(b'{"a":[1,2]}') == {"a": [1, 2]}


def test_nan_and_infinity_are_still_refused():
    for text in ("NaN", "[Infinity]", '{"a":-Infinity}'):
        with pytest.raises(ValueError):
            loads(text)
