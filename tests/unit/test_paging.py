"""The one paging cursor (services.common.paging): opaque, URL-safe, taken back only as it was given."""
import base64
import json

import pytest

from services.common import paging
from services.common.paging import BadCursor, decode, encode, page_size


@pytest.mark.parametrize("name, position, shape", [
    ("disclosures", [0], (int,)),
    ("notifications", [999_999_999_999_999_999], (int,)),
    ("records", ["2024-03-03T10:00:00", "Observation", "o-1"], (str, str, str)),
    ("search", ["ünïcode-id"], (str,)),
    ("records", ["", "Condition", "c"], (str, str, str)),
])
def test_a_cursor_round_trips_and_is_url_safe_and_opaque(name, position, shape):
    cursor = encode(name, *position)
    assert decode(cursor, name, *shape) == position
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert name not in cursor and all(p not in cursor for p in position if isinstance(p, str) and len(p) > 2)


@pytest.mark.parametrize("garbage", ["", "%%%", "!!", "abc", "-1", "100000000000000000000", "bm9wZQ",
                                     "e30", "³", "W10", "IltdIg", "a b"])
def test_a_garbage_cursor_is_refused(garbage):
    with pytest.raises(BadCursor):
        decode(garbage, "disclosures", int)


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("tampered", [
    encode("notifications", 20),  # another list's
    encode("disclosures", "20"),  # a string where the list keeps a number
    encode("disclosures", 20, 40),  # a part too many
    encode("disclosures"),  # a part too few
    encode("disclosures", -1),
    encode("disclosures", 10 ** 18),  # past what a number parameter may be
    _raw('["disclosures",true]'),
    _raw('["disclosures",20.0]'),
    _raw('["disclosures", 20]'),  # the same position, written otherwise
    _raw('["disclosures",NaN]'),
    _raw('{"disclosures":20}'),
    encode("disclosures", 20) + "==",  # padded
    encode("disclosures", 20)[:-1],  # cut short
    encode("disclosures", 20)[:-1] + "x",  # one character changed
])
def test_an_edited_or_foreign_cursor_is_refused(tampered):
    assert tampered != encode("disclosures", 20)
    with pytest.raises(BadCursor):
        decode(tampered, "disclosures", int)


def test_the_same_position_written_with_other_base64_bits_is_refused():
    cursor = encode("disclosures", 7)
    assert len(cursor) % 4 in (2, 3), "a cursor whose last character carries unused bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = cursor[:-1] + alphabet[alphabet.index(cursor[-1]) ^ 1]
    assert base64.urlsafe_b64decode(twin + "=" * (-len(twin) % 4)) == base64.urlsafe_b64decode(
        cursor + "=" * (-len(cursor) % 4))
    with pytest.raises(BadCursor):
        decode(twin, "disclosures", int)


def test_an_oversized_cursor_is_refused_before_it_is_decoded():
    long_id = "x" * paging.MAX_LENGTH
    with pytest.raises(BadCursor):
        decode(encode("search", long_id), "search", str)
    deep = _raw('["search",' + "[" * 3000)
    with pytest.raises(BadCursor):
        decode(deep, "search", str)
    fits = "y" * 64  # the longest FHIR id
    assert decode(encode("records", "2024-03-03T10:00:00", "MedicationStatement", fits),
                  "records", str, str, str)[2] == fits


def test_a_bad_cursor_is_a_value_error_naming_nothing_of_what_it_held():
    with pytest.raises(ValueError) as info:
        decode(_raw(json.dumps(["secret-list", "p-1"])), "disclosures", int)
    assert "p-1" not in str(info.value)


@pytest.mark.parametrize("text, size", [(None, paging.DEFAULT_PAGE), ("1", 1), ("100", 100), ("020", 20),
                                        ("0", None), ("101", None), ("-1", None), ("", None), ("x", None),
                                        ("³", None), ("9" * 5000, None), (" 5", None)])
def test_a_page_size_is_a_whole_number_from_one_to_the_maximum(text, size):
    assert page_size(text) == size


def test_a_list_may_have_its_own_default_and_maximum():
    assert page_size(None, default=5, maximum=10) == 5 and page_size("11", maximum=10) is None
