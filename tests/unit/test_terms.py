from datetime import UTC, date, datetime

import pytest

from sdk.terms import (
    MONTH_END,
    PaymentTerms,
    TermsError,
    TermsKind,
    parse_hubspot_date,
    parse_terms,
    tokyo_today,
)


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
        # closing on day 20: up to the 20th closes that month, after it the next month
        ("20日締め翌月10日払い", date(2026, 11, 20), date(2026, 12, 10)),
        ("20日締め翌月10日払い", date(2026, 11, 21), date(2027, 1, 10)),
        ("20日締め翌月10日払い", date(2026, 12, 25), date(2027, 2, 10)),  # closes 2027-01-20
        ("20日締め翌月末払い", date(2027, 1, 21), date(2027, 3, 31)),  # closes 02-20, due end of March
        ("15日締め翌々月末", date(2026, 11, 15), date(2027, 1, 31)),
        ("15日締め翌々月末", date(2026, 11, 16), date(2027, 2, 28)),
        ("25日締め翌月30日払い", date(2027, 1, 5), date(2027, 2, 28)),  # day 30 in February → its last day
        ("close_month_end_next_next_next_month_end", date(2026, 11, 20), date(2027, 2, 28)),
        ("翌月末", date(2026, 11, 20), date(2026, 12, 31)),
        ("翌月10日", date(2026, 11, 30), date(2026, 12, 10)),
        ("納品後30日", date(2026, 11, 20), date(2026, 12, 20)),
        ("請求日から45日", date(2026, 12, 20), date(2027, 2, 3)),
    ],
)
def test_due_date_from_payment_terms(code, billing, due):
    assert parse_terms(code).due_date(billing) == due


#: every written form the issue asks for, with the canonical code it means
WRITTEN_FORMS = [
    ("月末締め翌月末払い", "month_end_next_month_end"),
    ("末締め翌月末", "month_end_next_month_end"),
    ("月末締め翌月末", "month_end_next_month_end"),
    ("翌月末", "month_end_next_month_end"),
    ("翌月末払い", "month_end_next_month_end"),
    ("翌月末日払", "month_end_next_month_end"),
    ("月末〆翌月末支払い", "month_end_next_month_end"),
    ("翌月末までに支払い", "month_end_next_month_end"),
    ("末締め翌々月末払い", "month_end_next_next_month_end"),
    ("月末締め翌々月末払い", "month_end_next_next_month_end"),
    ("翌々月末", "month_end_next_next_month_end"),
    ("翌翌月末", "month_end_next_next_month_end"),
    ("20日締め翌月10日払い", "close_20_next_month_day_10"),
    ("２０日締め　翌月１０日払い", "close_20_next_month_day_10"),
    ("20日〆翌月10日払", "close_20_next_month_day_10"),
    ("毎月20日締め翌月10日支払", "close_20_next_month_day_10"),
    ("20日締め翌月末払い", "close_20_next_month_end"),
    ("15日締め翌々月5日", "close_15_next_next_month_day_5"),
    ("10日締め翌々々月末", "close_10_next_next_next_month_end"),
    ("月末締め翌月10日払い", "day_10_next_month"),
    ("翌月10日", "day_10_next_month"),
    ("翌月31日払い", "month_end_next_month_end"),
    ("月末締め翌々月10日払い", "close_month_end_next_next_month_day_10"),
    ("納品後30日", "net_30"),
    ("請求後30日以内", "net_30"),
    ("請求日から30日", "net_30"),
    ("請求日から30日後", "net_30"),
    ("請求日から30日以内に支払い", "net_30"),
    ("30日後", "net_30"),
    ("NET30", "net_30"),
    ("net 30", "net_30"),
    ("Net-30", "net_30"),
    ("ＮＥＴ３０", "net_30"),
    ("net_0", "net_0"),
    ("day_31_next_month", "month_end_next_month_end"),
    ("close_month_end_next_month_end", "month_end_next_month_end"),
    ("close_month_end_next_month_day_25", "day_25_next_month"),
    (" Close_20_Next_Month_Day_10 ", "close_20_next_month_day_10"),
]


@pytest.mark.parametrize(("text", "code"), WRITTEN_FORMS)
def test_written_forms_mean_their_canonical_code(text, code):
    terms = parse_terms(text)
    assert terms.code == code
    assert terms == parse_terms(code) == parse_terms(terms.label_ja)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a known form"),
        ("net_", "not a known form"),
        ("net_-5", "not a known form"),
        ("net_400", "400 days is more than 366"),
        ("net 9999", "9999 days is more than 366"),
        ("請求日から400日", "400 days is more than 366"),
        ("day_0_next_month", "pay day 0 is not 1-31"),
        ("day_32_next_month", "pay day 32 is not 1-31"),
        ("翌月32日", "pay day 32 is not 1-31"),
        ("翌月40日払い", "pay day 40 is not 1-31"),
        ("0日締め翌月末", "closing day 0 is not 1-28"),
        ("29日締め翌月末", "closing day 29 is not 1-28"),
        ("close_0_next_month_end", "closing day 0 is not 1-28"),
        ("32日締め翌月10日", "closing day 32 is not 1-28"),
        ("30", "not a known form"),
        ("30日", "not a known form"),  # day 30 of what?
        ("翌月", "not a known form"),  # no pay day
        ("月末締め", "not a known form"),
        ("当月末", "not a known form"),
        ("翌月末頃", "not a known form"),
        ("手形120日", "not a known form"),
        ("net_" + "9" * 10_000, "not a known form"),
    ],
)
def test_unknown_terms_are_refused_naming_the_accepted_forms_in_both_languages(text, reason):
    with pytest.raises(TermsError) as raised:
        parse_terms(text)
    message = str(raised.value)
    assert raised.value.problem_en.startswith(reason) and reason in message
    assert raised.value.problem_ja in message
    for accepted in (
        "month_end_next_month_end",
        "net_N",
        "close_N_next_month_day_D",
        "使える形式",
        "20日締め翌月10日払い",
    ):
        assert accepted in message
    assert len(message) < 1_000  # a megabyte typed into the property is not echoed back


def test_the_refusal_shows_control_characters_escaped():
    with pytest.raises(ValueError, match=r"\\u001b\[31m") as raised:
        parse_terms("\x1b[31m翌月末\x1b[0m払い?")
    assert "\x1b" not in str(raised.value)


def test_canonical_codes_and_labels():
    assert parse_terms("month_end_next_month_end").label_ja == "月末締め翌月末払い"
    assert parse_terms("month_end_next_next_month_end").label_ja == "月末締め翌々月末払い"
    assert parse_terms("day_25_next_month").label_ja == "月末締め翌月25日払い"
    assert parse_terms("net_30").label_ja == "請求日から30日後"
    assert parse_terms("close_20_next_month_day_10").label_ja == "20日締め翌月10日払い"
    assert parse_terms("close_15_next_next_next_month_end").label_ja == "15日締め翌々々月末払い"
    assert parse_terms("20日締め翌月10日").label_en == "closing on day 20, due on day 10 of the next month"
    assert parse_terms("翌々月末").label_en == "closing at month end, due at the end of the month after next"
    assert parse_terms("net_7").label_en == "7 days after the billing date"
    for code in ("month_end_next_month_end", "month_end_next_next_month_end", "net_45", "day_5_next_month"):
        assert parse_terms(code).code == code  # the historical codes keep their meaning and spelling


def test_terms_are_checked_when_built():
    assert PaymentTerms.closing(20, 1, 10) == PaymentTerms(
        TermsKind.CLOSING, close_day=20, months=1, pay_day=10
    )
    assert PaymentTerms.closing(pay_day=MONTH_END).kind is TermsKind.CLOSING
    for bad in (
        lambda: PaymentTerms.closing(0),
        lambda: PaymentTerms.closing(29),
        lambda: PaymentTerms.closing(months=0),
        lambda: PaymentTerms.closing(months=4),
        lambda: PaymentTerms.closing(pay_day=0),
        lambda: PaymentTerms.closing(pay_day=32),
        lambda: PaymentTerms.net(-1),
        lambda: PaymentTerms.net(367),
        lambda: PaymentTerms(TermsKind.NET, days=30, months=2),
        lambda: PaymentTerms(TermsKind.CLOSING, days=30),
    ):
        with pytest.raises(ValueError):
            bad()


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
