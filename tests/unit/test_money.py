from decimal import Decimal

import pytest

from sdk.errors import NotANumber
from sdk.money import (
    Rounding,
    decimal_places,
    exact_yen,
    format_yen,
    line_amount,
    plain,
    round_yen,
    to_decimal,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1100000", Decimal("1100000")),
        (" 1,100,000 ", Decimal("1100000")),
        ("¥5,000", Decimal("5000")),
        ("￥5000", Decimal("5000")),
        ("1.5", Decimal("1.5")),
        ("1e3", Decimal("1000")),
        (0.1, Decimal("0.1")),
        (7, Decimal(7)),
    ],
)
def test_to_decimal_reads_hubspot_numbers_exactly(text, expected):
    assert to_decimal(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "NaN", "Infinity", "-inf", True])
def test_to_decimal_refuses_what_is_not_a_finite_number(text):
    with pytest.raises(NotANumber):
        to_decimal(text)


def test_float_error_never_reaches_an_amount():
    # 0.1 + 0.2 != 0.3 in binary floating point; through Decimal the sum is exact.
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")
    assert line_amount(Decimal("3"), Decimal("0.1"), Rounding.FLOOR) == 0
    assert line_amount(Decimal("10"), Decimal("0.1"), Rounding.FLOOR) == 1  # float gives 0.9999999999999999


@pytest.mark.parametrize(
    ("amount", "rounding", "expected"),
    [
        ("100.5", Rounding.FLOOR, 100),
        ("100.5", Rounding.ROUND, 101),
        ("100.4", Rounding.ROUND, 100),
        ("100.01", Rounding.CEIL, 101),
        ("100", Rounding.CEIL, 100),
        ("-0.5", Rounding.FLOOR, -1),
    ],
)
def test_round_yen_applies_the_chosen_mode(amount, rounding, expected):
    assert round_yen(Decimal(amount), rounding) == expected


def test_rounding_names_match_freee_fraction_values():
    assert [r.freee for r in Rounding] == ["omit", "round", "round_up"]


def test_exact_yen_refuses_fractions():
    assert exact_yen("12000") == 12000
    assert exact_yen("12000.0") == 12000
    with pytest.raises(ValueError, match="whole number"):
        exact_yen("12000.5")


@pytest.mark.parametrize(
    ("text", "places"), [("1", 0), ("1.500", 1), ("0.125", 3), ("1E+3", 0), ("0.0001", 4)]
)
def test_decimal_places_counts_only_significant_digits(text, places):
    assert decimal_places(Decimal(text)) == places


@pytest.mark.parametrize(
    ("text", "out"), [("1500", "1500"), ("1.50", "1.5"), ("1E+3", "1000"), ("-0", "0"), ("-9999", "-9999")]
)
def test_plain_writes_unit_prices_as_freee_expects(text, out):
    assert plain(Decimal(text)) == out


def test_format_yen():
    assert format_yen(1234567) == "¥1,234,567"
    assert format_yen(-500) == "-¥500"
