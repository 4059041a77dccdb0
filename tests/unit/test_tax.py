from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.money import Rounding, round_yen
from sdk.tax import RATE_ORDER, TaxEntryMethod, TaxRate, summarize, tax_for_rate

rates = st.sampled_from(list(TaxRate))
roundings = st.sampled_from(list(Rounding))
entries = st.sampled_from(list(TaxEntryMethod))
amounts = st.integers(min_value=0, max_value=999_999_999_999)


def test_exclusive_tax_is_rounded_once_per_rate_not_per_line():
    # Three lines of 333 yen at 10 %: per line 33.3 → 33 each (99 in all); per rate 999 → 99.9 → 99 with floor.
    # With ceil the difference shows: per line 34 × 3 = 102, per rate 100.
    summary = summarize([(TaxRate.STANDARD_10, 333)] * 3, TaxEntryMethod.EXCLUSIVE, Rounding.CEIL)
    assert summary.tax == 100
    assert summary.for_rate(TaxRate.STANDARD_10).net == 999


def test_mixed_invoice_has_one_total_per_rate_in_invoice_order():
    summary = summarize(
        [
            (TaxRate.REDUCED_8, 5400),
            (TaxRate.STANDARD_10, 100000),
            (TaxRate.EXEMPT, 200),
            (TaxRate.REDUCED_8, 1080),
            (TaxRate.ZERO, 3000),
        ],
        TaxEntryMethod.EXCLUSIVE,
        Rounding.FLOOR,
    )
    assert [r.rate for r in summary.rates] == list(RATE_ORDER)
    assert summary.for_rate(TaxRate.REDUCED_8).tax == 518  # 6480 × 8 % = 518.4
    assert summary.for_rate(TaxRate.STANDARD_10).tax == 10000
    assert summary.for_rate(TaxRate.ZERO).tax == 0
    assert summary.for_rate(TaxRate.EXEMPT).tax == 0
    assert (summary.net, summary.tax, summary.gross) == (109680, 10518, 120198)


def test_inclusive_entry_extracts_the_tax_from_the_gross():
    total = tax_for_rate(11000, TaxRate.STANDARD_10, TaxEntryMethod.INCLUSIVE, Rounding.FLOOR)
    assert (total.net, total.tax, total.gross) == (10000, 1000, 11000)
    reduced = tax_for_rate(1000, TaxRate.REDUCED_8, TaxEntryMethod.INCLUSIVE, Rounding.FLOOR)
    assert (reduced.net, reduced.tax, reduced.gross) == (926, 74, 1000)  # 1000 × 8/108 = 74.07


def test_rates_absent_from_the_invoice_are_not_listed():
    summary = summarize([(TaxRate.STANDARD_10, 1000)], TaxEntryMethod.EXCLUSIVE, Rounding.FLOOR)
    assert [r.rate for r in summary.rates] == [TaxRate.STANDARD_10]
    assert summary.for_rate(TaxRate.REDUCED_8) is None


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10", TaxRate.STANDARD_10),
        ("10%", TaxRate.STANDARD_10),
        (" 10％ ", TaxRate.STANDARD_10),
        ("8_reduced", TaxRate.REDUCED_8),
        ("8%軽減", TaxRate.REDUCED_8),
        ("8%（軽減税率）", TaxRate.REDUCED_8),
        ("0", TaxRate.ZERO),
        ("exempt", TaxRate.EXEMPT),
        ("非課税", TaxRate.EXEMPT),
    ],
)
def test_tax_rate_reads_what_reps_type(text, rate):
    assert TaxRate.parse(text) is rate


@pytest.mark.parametrize("text", ["8", "5", "ten", "", "8%"])
def test_tax_rate_refuses_unknown_and_ambiguous_rates(text):
    with pytest.raises(ValueError, match="unknown tax rate"):
        TaxRate.parse(text)


def test_freee_line_fields_for_each_rate():
    assert [(r.freee_tax_rate, r.freee_reduced) for r in RATE_ORDER] == [
        (10, False),
        (8, True),
        (0, False),
        (0, False),
    ]


@given(amount=amounts, rate=rates, rounding=roundings)
def test_inclusive_entry_tax_plus_net_always_equals_gross(amount, rate, rounding):
    total = tax_for_rate(amount, rate, TaxEntryMethod.INCLUSIVE, rounding)
    assert total.net + total.tax == total.gross == amount
    assert 0 <= total.tax <= amount


@given(amount=amounts, rate=rates, rounding=roundings)
def test_exclusive_entry_net_plus_tax_equals_gross(amount, rate, rounding):
    total = tax_for_rate(amount, rate, TaxEntryMethod.EXCLUSIVE, rounding)
    assert total.net == amount
    assert total.net + total.tax == total.gross


@given(
    lines=st.lists(st.tuples(rates, st.integers(min_value=0, max_value=10_000_000)), min_size=1, max_size=40),
    entry=entries,
    rounding=roundings,
)
def test_rounding_is_applied_once_per_rate(lines, entry, rounding):
    summary = summarize(lines, entry, rounding)
    for total in summary.rates:
        rate_sum = sum(amount for rate, amount in lines if rate is total.rate)
        percent = Decimal(total.rate.percent)
        exact = rate_sum * percent / (100 if entry is TaxEntryMethod.EXCLUSIVE else 100 + percent)
        # the tax of a rate is exactly one rounding of that rate's exact tax: never a sum of per-line roundings
        assert total.tax == round_yen(exact, rounding)
        assert abs(Decimal(total.tax) - exact) < 1
    assert summary.net + summary.tax == summary.gross
    assert sum(amount for _, amount in lines) == (
        summary.net if entry is TaxEntryMethod.EXCLUSIVE else summary.gross
    )
