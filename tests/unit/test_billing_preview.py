"""What ``preview`` shows of a deal's billing: every period's invoice, the totals, consolidated closing windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sdk.billing.preview import PREVIEW_PERIODS, first_invoice, preview_schedule
from sdk.errors import ValidationFailed
from sdk.settings import load_settings
from sdk.validation import validate_deal
from tests.conftest import TODAY
from tests.factories import bundle, company, line_item

MONTHS = {"monthly": 1, "quarterly": 3, "per_six_months": 6, "annually": 12}


def _deal(*items, company_=None, **deal_props):
    settings = load_settings()
    chosen = company_ if company_ is not None else company(freee_payment_terms="month_end_next_month_end")
    deal = bundle(*items, closedate="2027-01-10T03:00:00Z", company_=chosen, **deal_props)
    return deal, validate_deal(deal, settings, today=TODAY), settings


def _subscription(frequency: str = "monthly", term: str | None = "P12M", price: int = 50000, **props):
    recurring = {"recurringbillingfrequency": frequency, **props}
    if term is not None:
        recurring["hs_recurring_billing_period"] = term
    return line_item("クラウド勤怠 Pro", price=price, **recurring)


@hsettings(max_examples=60, deadline=None)
@given(
    frequency=st.sampled_from(sorted(MONTHS)),
    cycles=st.integers(1, 36),
    price=st.integers(1, 3_000_000),
    setup=st.integers(0, 800_000),
)
def test_a_fixed_term_lists_every_period_and_its_totals_are_the_contract(frequency, cycles, price, setup):
    items = [_subscription(frequency, f"P{cycles * MONTHS[frequency]}M", price)]
    if setup:
        items.append(line_item("初期設定", price=setup))
    deal, draft, settings = _deal(*items)
    preview = preview_schedule(deal, draft, settings)
    assert len(preview.periods) == cycles
    assert not preview.continues
    assert preview.net == price * cycles + setup  # the contract, independent of the schedule's arithmetic
    assert preview.total == preview.net + preview.tax
    assert [p.number for p in preview.periods] == list(range(1, cycles + 1))
    for before, after in zip(preview.periods, preview.periods[1:], strict=False):
        assert after.start == before.end + timedelta(days=1)
    assert all(p.closing is None for p in preview.periods)  # billed per deal


def test_an_open_ended_subscription_shows_twelve_periods_and_continues():
    deal, draft, settings = _deal(_subscription(term=None, price=25000))
    preview = preview_schedule(deal, draft, settings)
    assert preview.plan is not None and preview.plan.count is None
    assert preview.continues
    assert len(preview.periods) == PREVIEW_PERIODS == 12
    assert preview.periods[-1].label_ja == "2027年12月10日〜2028年1月9日分"
    assert preview.net == 12 * 25000
    shown = preview.plan_dict()
    assert shown is not None
    assert (shown["count"], shown["listed"], shown["continues"], shown["net"]) == (None, 12, True, 300000)
    assert len(preview_schedule(deal, draft, settings, limit=3).periods) == 3


def test_each_period_is_its_own_invoice_with_subject_dates_and_tax():
    deal, draft, settings = _deal(
        _subscription(price=33333), line_item("初期設定", price=100000), name="勤怠"
    )
    periods = preview_schedule(deal, draft, settings).periods
    first, second = periods[0], periods[1]
    assert (first.net, first.tax, first.total, first.lines) == (133333, 13333, 146666, 2)
    assert (second.net, second.tax, second.total, second.lines) == (33333, 3333, 36666, 1)
    assert first.subject == "2027年1月10日〜2月9日分 勤怠"
    assert (second.billing_date, second.due_date) == (date(2027, 2, 10), date(2027, 3, 31))


def test_instalments_list_each_share_with_the_remainder_on_the_first():
    deal, draft, settings = _deal(line_item("要件定義", price=1000000), freee_billing_plan="3")
    preview = preview_schedule(deal, draft, settings)
    assert [p.net for p in preview.periods] == [333334, 333333, 333333]
    assert [p.label_ja for p in preview.periods] == ["分割 1/3回目", "分割 2/3回目", "分割 3/3回目"]
    assert preview.net == 1000000


def test_a_deal_billed_once_has_no_schedule_and_sends_its_own_invoice():
    deal, draft, settings = _deal(line_item("導入支援", price=300000))
    preview = preview_schedule(deal, draft, settings)
    assert preview.plan is None and preview.periods == () and preview.closing is None
    assert preview.plan_dict() is None
    assert first_invoice(preview, draft, settings) is draft


def test_the_first_invoice_of_a_delayed_schedule_is_its_first_period():
    delay = {
        "hs_billing_start_delay_type": "hs_billing_start_delay_months",
        "hs_billing_start_delay_months": "1",
    }
    deal, draft, settings = _deal(_subscription(term="P6M", **delay))
    preview = preview_schedule(deal, draft, settings)
    assert preview.periods[0].billing_date == date(2027, 2, 10)
    first = first_invoice(preview, draft, settings)
    assert first is not None and first.period == 1 and first.billing_date == date(2027, 2, 10)


def _consolidated(closing_day: str = "month_end", **props):
    return company(
        "株式会社つむぎ商会",
        freee_billing_mode="consolidated",
        freee_closing_day=closing_day,
        freee_payment_terms="month_end_next_month_end",
        **props,
    )


def test_a_consolidated_companys_periods_fall_in_closing_windows():
    deal, draft, settings = _deal(_subscription(term="P3M"), company_=_consolidated("20"))
    preview = preview_schedule(deal, draft, settings)
    assert preview.billing.consolidated and preview.billing_dict()["closing_day"] == "20"
    windows = [
        (p.billing_date, p.closing.window.start, p.closing.closing_date) for p in preview.periods if p.closing
    ]
    assert windows == [
        (date(2027, 1, 10), date(2026, 12, 21), date(2027, 1, 20)),
        (date(2027, 2, 10), date(2027, 1, 21), date(2027, 2, 20)),
        (date(2027, 3, 10), date(2027, 2, 21), date(2027, 3, 20)),
    ]
    assert preview.periods[0].closing is not None
    assert preview.periods[0].closing.due_date == date(2027, 2, 28)  # 月末締め翌月末 from the closing date
    assert first_invoice(preview, draft, settings) is None  # nothing of its own: the closing issues it


def test_a_consolidated_deal_billed_once_names_its_window():
    deal, draft, settings = _deal(line_item("商品撮影", price=90000), company_=_consolidated())
    preview = preview_schedule(deal, draft, settings)
    assert preview.closing is not None
    assert (preview.closing.window.start, preview.closing.closing_date) == (
        date(2027, 1, 1),
        date(2027, 1, 31),
    )
    assert preview.billing_dict()["consolidated"] == preview.closing.as_dict()
    assert preview.closing.as_dict()["window_label"] == "2027年1月分"


def test_a_consolidated_company_without_terms_and_a_bad_schedule_say_every_problem():
    without_terms = company("株式会社つむぎ商会", freee_billing_mode="consolidated")
    deal, draft, settings = _deal(
        _subscription(term="12 months"),
        line_item("B", recurringbillingfrequency="fortnightly"),
        company_=without_terms,
    )
    with pytest.raises(ValidationFailed) as refused:
        preview_schedule(deal, draft, settings)
    assert refused.value.codes == [
        "line_item.term_invalid",
        "line_item.frequency_unknown",
        "company.consolidated_without_terms",
    ]
    assert all(p.ja and p.en and p.ja != p.en for p in refused.value.problems)
    deal, draft, settings = _deal(line_item("導入支援"), company_=without_terms)
    with pytest.raises(ValidationFailed) as alone:
        preview_schedule(deal, draft, settings)
    assert alone.value.codes == ["company.consolidated_without_terms"]
