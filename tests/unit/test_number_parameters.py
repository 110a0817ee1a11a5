"""services.common.params.whole_number: what a number query parameter may be."""
import pytest

from services.common.params import MAX_DIGITS, whole_number


@pytest.mark.parametrize("text, value", [("0", 0), ("20", 20), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS))])
def test_ascii_digits_up_to_the_most_a_64_bit_integer_always_holds_are_a_number(text, value):
    assert whole_number(text) == value
    assert whole_number(text) < 2 ** 63


@pytest.mark.parametrize("text", ["", "-1", "1.5", "³", "١٢", "100000000000000000000", "9" * 5000])
def test_anything_else_is_not_a_number_and_never_raises(text):
    assert whole_number(text) is None
