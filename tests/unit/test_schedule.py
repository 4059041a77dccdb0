"""Billing schedules: HubSpot's recurring line-item properties → periods → one draft per period.

The property tests check the schedule against an independent walk of the calendar (day by day, month by month),
not against the formula the module uses."""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sdk.billing.schedule import (
    MAX_PERIODS,
    Frequency,
    Plan,
    PlanKind,
    Timing,
    add_steps,
    parse_term,
    period_draft,
    plan_for_deal,
    service_label_ja,
)
from sdk.errors import ValidationFailed
from sdk.money import Rounding
from sdk.settings import load_settings
from sdk.tax import TaxEntryMethod, TaxRate, summarize
from sdk.terms import PaymentTerms
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.factories import bundle, line_item

MONTHS = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.PER_SIX_MONTHS: 6,
    Frequency.ANNUALLY: 12,
    Frequency.PER_TWO_YEARS: 24,
    Frequency.PER_THREE_YEARS: 36,
    Frequency.PER_FOUR_YEARS: 48,
    Frequency.PER_FIVE_YEARS: 60,
}
WEEKS = {Frequency.WEEKLY: 1, Frequency.BIWEEKLY: 2}


def _month_start(start: date, months: int) -> date:
    """Independent: walk ``months`` calendar months from ``start`` one at a time, then take ``start``'s day or the
    month's last day."""
    year, month = start.year, start.month
    for _ in range(months):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last))


def _plan(frequency: Frequency, start: date, count: int | None, timing: Timing = Timing.ADVANCE) -> Plan:
    return Plan(PlanKind.RECURRING, frequency, start, count, timing, PaymentTerms.closing())


dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))


@hsettings(max_examples=300, deadline=None)
@given(frequency=st.sampled_from(list(Frequency)), start=dates, count=st.integers(1, 30))
def test_periods_tile_the_term_with_no_gap_or_overlap(frequency: Frequency, start: date, count: int) -> None:
    periods = list(_plan(frequency, start, count).periods())
    assert len(periods) == count
    assert periods[0].start == start
    for before, after in itertools.pairwise(periods):
        assert after.start == before.end + timedelta(days=1)  # no gap, no overlap
        assert before.start <= before.end
    # the term ends where the calendar says count periods end
    if frequency in WEEKS:
        assert periods[-1].end == start + timedelta(days=7 * WEEKS[frequency] * count - 1)
    else:
        assert periods[-1].end == _month_start(start, MONTHS[frequency] * count) - timedelta(days=1)
    assert [p.number for p in periods] == list(range(1, count + 1))


@hsettings(max_examples=200, deadline=None)
@given(
    frequency=st.sampled_from(list(Frequency)),
    months=st.integers(1, 120),
    weeks=st.integers(1, 260),
)
def test_period_count_is_the_term_divided_by_the_frequency(
    frequency: Frequency, months: int, weeks: int
) -> None:
    """A term in months (or weeks) holds term / frequency periods when that is whole, and is refused otherwise."""
    if frequency in MONTHS:
        term = parse_term(f"P{months}M")
        expected = months // MONTHS[frequency] if months % MONTHS[frequency] == 0 else None
    else:
        term = parse_term(f"P{weeks}W")
        expected = weeks // WEEKS[frequency] if weeks % WEEKS[frequency] == 0 else None
    assert term is not None
    assert term.periods(frequency.step) == expected


def test_terms_parse_as_iso_8601_date_durations() -> None:
    assert parse_term("P12M") == parse_term("P1Y") == parse_term("Ｐ１２Ｍ")
    assert parse_term("P1Y6M").months == 18  # type: ignore[union-attr]
    assert parse_term("P2W").days == 14  # type: ignore[union-attr]
    for bad in ("12", "P", "PT12H", "P-1M", "1 year", "P12", "P1.5Y", ""):
        assert parse_term(bad) is None, bad


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2027, 1, 31), [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]),
        (date(2028, 1, 31), [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]),
        (date(2027, 1, 30), [date(2027, 1, 30), date(2027, 2, 28), date(2027, 3, 30), date(2027, 4, 30)]),
        (date(2028, 2, 29), [date(2028, 2, 29), date(2028, 3, 29), date(2028, 4, 29), date(2028, 5, 29)]),
    ],
)
def test_month_end_starts_clamp_and_come_back(start: date, expected: list[date]) -> None:
    """1/31 → 2/28 → 3/31 (never drifting to the 28th); leap years give 2/29."""
    assert [p.start for p in _plan(Frequency.MONTHLY, start, 4).periods()] == expected


@hsettings(max_examples=200, deadline=None)
@given(start=dates, k=st.integers(0, 150))
def test_month_steps_match_an_independent_calendar_walk(start: date, k: int) -> None:
    assert add_steps(start, Frequency.MONTHLY.step, k) == _month_start(start, k)


@hsettings(max_examples=100, deadline=None)
@given(frequency=st.sampled_from(list(Frequency)), start=dates, count=st.integers(1, 12))
def test_billing_in_advance_or_arrears_and_due_from_the_terms(
    frequency: Frequency, start: date, count: int
) -> None:
    terms = PaymentTerms.closing()
    for advance, arrears in zip(
        _plan(frequency, start, count).periods(),
        _plan(frequency, start, count, Timing.ARREARS).periods(),
        strict=True,
    ):
        assert advance.billing_date == advance.start
        assert arrears.billing_date == arrears.end
        assert advance.due_date == terms.due_date(advance.billing_date)
        assert arrears.due_date == terms.due_date(arrears.billing_date) >= arrears.billing_date


def test_open_ended_schedules_extend_period_by_period() -> None:
    plan = _plan(Frequency.MONTHLY, date(2027, 1, 1), None)
    assert [p.number for p in plan.periods(through=date(2027, 3, 1))] == [1, 2, 3]
    assert plan.period(40).start == date(2030, 4, 1)
    with pytest.raises(ValueError):
        list(plan.periods())


def test_labels_name_the_period_in_japanese() -> None:
    assert service_label_ja(date(2027, 1, 1), date(2027, 1, 31)) == "2027年1月分"
    assert service_label_ja(date(2027, 1, 1), date(2027, 3, 31)) == "2027年1月〜3月分"
    assert service_label_ja(date(2026, 11, 1), date(2027, 1, 31)) == "2026年11月〜2027年1月分"
    assert service_label_ja(date(2027, 1, 15), date(2027, 2, 14)) == "2027年1月15日〜2月14日分"


# ------------------------------------------------------------------------------------------ from the deal


def _draft(*items, settings=None, **deal_props):
    settings = settings or load_settings()
    deal = bundle(*items, closedate="2027-01-01T03:00:00Z", **deal_props)
    draft = validate_deal(deal, settings, today=TODAY)
    return deal, draft, settings


def test_a_deal_without_recurring_lines_is_billed_once() -> None:
    deal, draft, settings = _draft(line_item("導入支援", price=300000))
    assert plan_for_deal(deal, draft, settings) is None


def test_a_twelve_month_subscription_bills_each_month_with_the_period_in_the_subject() -> None:
    deal, draft, settings = _draft(
        line_item(
            "クラウド勤怠 Pro",
            price=50000,
            recurringbillingfrequency="monthly",
            hs_recurring_billing_period="P12M",
        ),
        line_item("初期設定", price=100000),
        name="クラウド勤怠 Pro",
    )
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None and plan.count == 12 and plan.frequency is Frequency.MONTHLY
    first = period_draft(draft, plan, 1, settings)
    assert [line.description for line in first.lines] == ["クラウド勤怠 Pro", "初期設定"]
    assert first.subject == "2027年1月分 クラウド勤怠 Pro"
    assert first.unit.key == f"{draft.deal_id}:1"
    second = period_draft(draft, plan, 2, settings)
    assert [line.amount for line in second.lines] == [50000]
    assert second.subject == "2027年2月分 クラウド勤怠 Pro"
    assert second.billing_date == date(2027, 2, 1) and second.due_date == date(2027, 3, 31)
    total = sum(period_draft(draft, plan, n, settings).tax.net for n in range(1, 13))
    assert total == 12 * 50000 + 100000


def test_mixed_frequencies_bill_each_line_on_its_own_cycle() -> None:
    deal, draft, settings = _draft(
        line_item(
            "サポート", price=10000, recurringbillingfrequency="monthly", hs_recurring_billing_period="P12M"
        ),
        line_item(
            "年間ライセンス",
            price=120000,
            recurringbillingfrequency="annually",
            hs_recurring_billing_period="P1Y",
        ),
        line_item(
            "四半期レポート",
            price=30000,
            recurringbillingfrequency="quarterly",
            hs_recurring_billing_period="P12M",
        ),
    )
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None and plan.count == 12
    amounts = [[line.amount for line in period_draft(draft, plan, n, settings).lines] for n in range(1, 13)]
    assert amounts[0] == [10000, 120000, 30000]
    assert amounts[1] == [10000]
    assert amounts[3] == [10000, 30000]
    assert sum(map(sum, amounts)) == 12 * 10000 + 120000 + 4 * 30000


def test_delayed_start_by_days_months_or_date() -> None:
    for props, start in (
        (
            {
                "hs_billing_start_delay_type": "hs_billing_start_delay_days",
                "hs_billing_start_delay_days": "14",
            },
            date(2027, 1, 15),
        ),
        (
            {
                "hs_billing_start_delay_type": "hs_billing_start_delay_months",
                "hs_billing_start_delay_months": "2",
            },
            date(2027, 3, 1),
        ),
        ({"hs_recurring_billing_start_date": "2027-04-10"}, date(2027, 4, 10)),
    ):
        deal, draft, settings = _draft(
            line_item(
                "SaaS",
                price=1000,
                recurringbillingfrequency="monthly",
                hs_recurring_billing_period="P3M",
                **props,
            )
        )
        plan = plan_for_deal(deal, draft, settings)
        assert plan is not None and plan.start == start, props


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"recurringbillingfrequency": "fortnightly"}, "line_item.frequency_unknown"),
        (
            {"recurringbillingfrequency": "monthly", "hs_recurring_billing_period": "12 months"},
            "line_item.term_invalid",
        ),
        (
            {"recurringbillingfrequency": "quarterly", "hs_recurring_billing_period": "P10M"},
            "line_item.term_not_multiple",
        ),
        (
            {
                "recurringbillingfrequency": "monthly",
                "hs_billing_start_delay_type": "hs_billing_start_delay_days",
                "hs_billing_start_delay_days": "-3",
            },
            "line_item.delay_negative",
        ),
        (
            {
                "recurringbillingfrequency": "monthly",
                "hs_billing_start_delay_type": "hs_billing_start_delay_months",
                "hs_billing_start_delay_months": "1.5",
            },
            "line_item.delay_invalid",
        ),
        (
            {"recurringbillingfrequency": "weekly", "hs_recurring_billing_period": "P121W"},
            "schedule.too_many_periods",
        ),
        (
            {"recurringbillingfrequency": "monthly", "hs_recurring_billing_start_date": "someday"},
            "line_item.start_date_invalid",
        ),
        (
            {
                "recurringbillingfrequency": "monthly",
                "hs_recurring_billing_period": "P12M",
                "hs_recurring_billing_number_of_payments": "6",
            },
            "line_item.term_mismatch",
        ),
    ],
)
def test_bad_schedules_are_refused_with_a_clear_code_in_both_languages(props, code) -> None:
    deal, draft, settings = _draft(line_item("SaaS", price=1000, **props))
    with pytest.raises(ValidationFailed) as refused:
        plan_for_deal(deal, draft, settings)
    problem = next(p for p in refused.value.problems if p.code == code)
    assert problem.ja and problem.en and problem.ja != problem.en


def test_weekly_and_monthly_lines_cannot_share_a_schedule() -> None:
    deal, draft, settings = _draft(
        line_item("A", recurringbillingfrequency="weekly", hs_recurring_billing_period="P4W"),
        line_item("B", recurringbillingfrequency="monthly", hs_recurring_billing_period="P1M"),
    )
    with pytest.raises(ValidationFailed) as refused:
        plan_for_deal(deal, draft, settings)
    assert [p.code for p in refused.value.problems] == ["schedule.frequencies_mixed"]


@hsettings(max_examples=150, deadline=None)
@given(
    instalments=st.integers(2, MAX_PERIODS),
    prices=st.lists(st.integers(1, 5_000_000), min_size=1, max_size=4),
    rates=st.lists(st.sampled_from(["10", "8_reduced", "0"]), min_size=4, max_size=4),
)
def test_instalments_add_up_to_the_contract_with_the_remainder_on_the_first(
    instalments, prices, rates
) -> None:
    items = [line_item(f"品目{i}", price=p, freee_tax_rate=rates[i]) for i, p in enumerate(prices)]
    deal, draft, settings = _draft(*items, freee_billing_plan=str(instalments))
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None and plan.kind is PlanKind.INSTALMENTS and plan.count == instalments
    drafts = [period_draft(draft, plan, n, settings) for n in range(1, instalments + 1)]
    for line in draft.lines:  # each line's net splits exactly, the first share carrying the remainder
        shares = [d.amount for p in drafts for d in p.lines if d.line_item_id == line.line_item_id]
        assert sum(shares) == line.amount
        assert max(shares) - min(shares) <= line.amount % instalments if len(shares) > 1 else True
    assert sum(d.tax.net for d in drafts) == draft.tax.net
    # per-invoice tax rounding: each rate's tax over the instalments differs from tax on the whole by < N yen
    assert abs(sum(d.tax.tax for d in drafts) - draft.tax.tax) < instalments * len(draft.tax.rates)
    assert drafts[0].subject.startswith("分割 1/")


@hsettings(max_examples=100, deadline=None)
@given(
    frequency=st.sampled_from([Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY, Frequency.WEEKLY]),
    cycles=st.integers(1, 24),
    price=st.integers(1, 2_000_000),
    setup=st.integers(0, 500_000),
)
def test_fixed_term_totals_equal_the_contract_total(frequency, cycles, price, setup) -> None:
    term = f"P{cycles * WEEKS[frequency]}W" if frequency in WEEKS else f"P{cycles * MONTHS[frequency]}M"
    items = [
        line_item(
            "SaaS", price=price, recurringbillingfrequency=frequency.value, hs_recurring_billing_period=term
        )
    ]
    if setup:
        items.append(line_item("初期費用", price=setup))
    deal, draft, settings = _draft(*items)
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None and plan.count == cycles
    nets = [period_draft(draft, plan, n, settings).tax.net for n in range(1, cycles + 1)]
    assert sum(nets) == price * cycles + setup
    per_period = summarize([(TaxRate.STANDARD_10, price)], TaxEntryMethod.EXCLUSIVE, Rounding.FLOOR)
    assert period_draft(draft, plan, cycles, settings).tax.gross == per_period.gross if cycles > 1 else True


def test_a_plan_survives_the_store() -> None:
    deal, draft, settings = _draft(
        line_item(
            "SaaS", price=1000, recurringbillingfrequency="quarterly", hs_recurring_billing_period="P2Y"
        )
    )
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None
    assert Plan.from_plain(plan.to_plain()) == plan


def test_instalment_lines_with_a_recurring_line_split_its_whole_contract() -> None:
    deal, draft, settings = _draft(
        line_item(
            "SaaS", price=10000, recurringbillingfrequency="monthly", hs_recurring_billing_period="P12M"
        ),
        freee_billing_plan="3",
    )
    plan = plan_for_deal(deal, draft, settings)
    assert plan is not None
    assert [period_draft(draft, plan, n, settings).tax.net for n in (1, 2, 3)] == [40000, 40000, 40000]
    assert Decimal(1) == period_draft(draft, plan, 1, settings).lines[0].quantity


def test_a_delay_counts_only_when_the_delay_type_names_it() -> None:
    """specs/hubspot/recurring-line-items.md: the type says which sibling counts; a delay set alone is not one."""
    props = {"recurringbillingfrequency": "monthly", "hs_recurring_billing_period": "P3M"}
    deal, draft, settings = _draft(line_item("SaaS", price=1000, **props, hs_billing_start_delay_months="2"))
    alone = plan_for_deal(deal, draft, settings)
    deal, draft, settings = _draft(
        line_item(
            "SaaS",
            price=1000,
            **props,
            hs_billing_start_delay_months="2",
            hs_billing_start_delay_type="hs_billing_start_delay_months",
        )
    )
    typed = plan_for_deal(deal, draft, settings)
    assert alone is not None and typed is not None
    assert alone.start == draft.billing_date
    assert typed.start == add_steps(draft.billing_date, Frequency.MONTHLY.step, 2)
