"""Consolidated invoices, pure: tax once per rate for the whole invoice, shares that add up, payments allocated
oldest period first, closing windows. Checked against independent computations (fractions, a day-by-day walk)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sdk.billing.consolidation import Charge, allocate, charge_amounts, invoice_lines, tax_of, window_of
from sdk.billing.units import Unit
from sdk.settings import load_settings
from sdk.tax import TaxRate
from sdk.validation import DraftLine

PERCENT = {TaxRate.STANDARD_10: 10, TaxRate.REDUCED_8: 8, TaxRate.ZERO: 0, TaxRate.EXEMPT: 0}
SETTINGS = load_settings()

lines_st = st.lists(
    st.tuples(st.sampled_from(list(PERCENT)), st.integers(min_value=-50_000, max_value=5_000_000)),
    min_size=1,
    max_size=4,
)
charges_st = st.lists(lines_st, min_size=1, max_size=6)
# a charge's discounts never exceed its items (a charge is something the customer owes)
owed_st = st.lists(
    st.lists(
        st.tuples(st.sampled_from(list(PERCENT)), st.integers(min_value=0, max_value=5_000_000)),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=6,
)


def make_charges(spec: list[list[tuple[TaxRate, int]]]) -> list[Charge]:
    out = []
    for n, items in enumerate(spec, start=1):
        lines = tuple(DraftLine(f"item {n}", Decimal(1), Decimal(a), a, r) for r, a in items)
        out.append(Charge(Unit.of_period(str(100 + n), 1), f"deal {n}", "", date(2027, 1, n), lines))
    return out


@hsettings(max_examples=200, deadline=None)
@given(charges_st)
def test_consolidated_tax_is_each_rates_total_taxed_once_rounded_down(spec):
    charges = make_charges(spec)
    tax = tax_of(invoice_lines(charges), SETTINGS)
    for rate, percent in PERCENT.items():
        base = sum(a for items in spec for r, a in items if r is rate)
        found = tax.for_rate(rate)
        expected = math.floor(Fraction(base * percent, 100))  # tax-exclusive, 切り捨て (the default settings)
        if found is None:
            assert not any(r is rate for items in spec for r, _ in items)
            continue
        assert (found.net, found.tax) == (base, expected)
    # rounding once for the invoice never exceeds rounding each charge, and differs by less than a yen per charge
    separately = sum(tax_of(c.lines, SETTINGS).tax for c in charges)
    assert 0 <= tax.tax - separately < len(charges) * len(PERCENT)


@hsettings(max_examples=200, deadline=None)
@given(owed_st)
def test_charge_shares_add_up_to_the_invoice_and_each_is_its_net_plus_about_its_tax(spec):
    charges = make_charges(spec)
    tax = tax_of(invoice_lines(charges), SETTINGS)
    shares = charge_amounts(charges, tax)
    assert sum(shares.values()) == tax.gross
    for charge in charges:
        exact = sum(Fraction(line.amount * (100 + PERCENT[line.rate]), 100) for line in charge.lines)
        assert abs(shares[charge.key] - exact) <= len(PERCENT)


@given(
    st.lists(st.integers(min_value=0, max_value=1_000_000), min_size=1, max_size=8),
    st.integers(min_value=-10, max_value=9_000_000),
)
def test_a_payment_is_allocated_oldest_first_never_more_than_a_share(amounts, paid):
    keys = [(f"{n}:1", a) for n, a in enumerate(amounts)]
    allocation = allocate(keys, paid)
    assert sum(allocation.paid.values()) == min(max(paid, 0), sum(amounts))
    seen_short = False
    for key, amount in keys:
        got = allocation.paid[key]
        assert 0 <= got <= amount
        if seen_short:
            assert got == 0  # nothing reaches a newer charge before every older one is paid in full
        seen_short = seen_short or got < amount


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from([0, 5, 10, 15, 20, 25]),
)
def test_a_day_falls_in_exactly_one_window_ending_on_the_closing_day(day, closing):
    window = window_of(day, closing or 31)
    assert window.start <= day <= window.end
    next_day = window.end + timedelta(days=1)
    if closing:
        assert window.end.day == closing
    else:
        assert next_day.day == 1  # month end
    assert window_of(window.start, closing or 31) == window == window_of(window.end, closing or 31)
    assert window_of(next_day, closing or 31).start == next_day  # windows tile the calendar
    assert window_of(window.start - timedelta(days=1), closing or 31).end == window.start - timedelta(days=1)
