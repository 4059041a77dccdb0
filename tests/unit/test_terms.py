from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.terms import PaymentTerms, TermsKind, parse_hubspot_date, parse_terms, tokyo_today


@pytest.mark.parametrize(
    ("code", "billing", "due"),
    [
        ("month_end_next_month_end", date(2026, 11, 20), date(2026, 12, 31)),
        ("month_end_next_month_end", date(2026, 12, 31), date(2027, 1, 31)),
        ("month_end_next_month_end", date(2027, 1, 31), date(2027, 2, 28)),
        ("month_end_next_month_end", date(2028, 1, 15), date(2028, 2, 29)),  # leap year
        ("月末締め翌月末払い", date(2026, 11, 1), date(2026, 12, 31)),
        ("month_end_next_next_month_end", date(2026, 11, 20), date(2027, 1, 31)),
        ("month_end_next_next_month_end", date(2026, 12, 1), date(2027, 2, 28)),
        ("net_30", date(2026, 11, 20), date(2026, 12, 20)),
        ("net_0", date(2026, 11, 20), date(2026, 11, 20)),
        ("NET_60", date(2026, 12, 15), date(2027, 2, 13)),
        ("day_25_next_month", date(2026, 11, 30), date(2026, 12, 25)),
        ("day_31_next_month", date(2027, 1, 10), date(2027, 2, 28)),
        ("day_10_next_month", date(2026, 12, 10), date(2027, 1, 10)),
    ],
)
def test_due_date_from_payment_terms(code, billing, due):
    assert parse_terms(code).due_date(billing) == due


@pytest.mark.parametrize(
    "code", ["", "net_", "net_-5", "net_400", "day_0_next_month", "day_32_next_month", "翌月末", "30"]
)
def test_unknown_terms_are_refused_with_the_accepted_forms(code):
    with pytest.raises(ValueError, match="month_end_next_month_end"):
        parse_terms(code)


def test_terms_round_trip_through_their_code():
    for code in ("month_end_next_month_end", "month_end_next_next_month_end", "net_45", "day_5_next_month"):
        assert parse_terms(code).code == code
    assert parse_terms("day_25_next_month").label_ja == "翌月25日払い"
    assert parse_terms("net_30").label_ja == "請求日から30日後"
    assert parse_terms("month_end_next_next_month_end").label_ja == "月末締め翌々月末払い"
    assert parse_terms("month_end_next_month_end").label_ja == "月末締め翌月末払い"


terms_strategy = st.one_of(
    st.just(PaymentTerms(TermsKind.MONTH_END_NEXT_MONTH_END)),
    st.just(PaymentTerms(TermsKind.MONTH_END_NEXT_NEXT_MONTH_END)),
    st.integers(min_value=0, max_value=366).map(lambda n: PaymentTerms(TermsKind.NET, n)),
    st.integers(min_value=1, max_value=31).map(lambda d: PaymentTerms(TermsKind.DAY_NEXT_MONTH, d)),
)


@given(terms=terms_strategy, billing=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_due_date_is_never_before_the_billing_date(terms, billing):
    due = terms.due_date(billing)
    assert due >= billing
    assert due - billing <= timedelta(days=366 if terms.kind is TermsKind.NET else 92)


def test_close_date_is_read_as_a_tokyo_calendar_date():
    # 16:00 UTC on Nov 30 is already Dec 1 in Tokyo (UTC+9)
    assert parse_hubspot_date("2026-11-30T16:00:00Z") == date(2026, 12, 1)
    assert parse_hubspot_date("2026-11-30T14:59:59.999Z") == date(2026, 11, 30)
    assert parse_hubspot_date("2026-11-30") == date(2026, 11, 30)
    assert parse_hubspot_date("1796050800000") == date(2026, 12, 1)  # epoch ms for 2026-11-30T15:00Z
    assert parse_hubspot_date("2026-11-30T10:00:00") == date(2026, 11, 30)  # naive → UTC


@pytest.mark.parametrize("text", ["", "   ", "yesterday", "2026-13-01"])
def test_unreadable_dates_raise(text):
    with pytest.raises(ValueError):
        parse_hubspot_date(text)


def test_tokyo_today_moves_at_midnight_tokyo():
    assert tokyo_today(datetime(2026, 11, 30, 14, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert tokyo_today(datetime(2026, 11, 30, 15, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert isinstance(tokyo_today(), date)
    with pytest.raises(ValueError, match="naive"):
        tokyo_today(datetime(2026, 11, 30, 15, 0))
