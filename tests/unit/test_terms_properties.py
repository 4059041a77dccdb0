"""Payment terms against an independent calendar: the due date is found here by walking day by day (to the
closing date, across month boundaries, to the pay day), never by calling the code under test; and every way of
writing terms reads as the terms its canonical code names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.terms import MAX_NET_DAYS, MONTH_END, PaymentTerms, TermsKind, parse_terms

ONE_DAY = timedelta(days=1)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Spec:
    """The terms as the test understands them: ``None`` is "month end"."""

    net_days: int | None = None
    close: int | None = None
    months: int = 1
    pay: int | None = None


def is_last_of_month(day: date) -> bool:
    return (day + ONE_DAY).month != day.month


def expected_due(spec: Spec, billing: date) -> date:
    """The due date by walking the calendar one day at a time."""
    if spec.net_days is not None:
        day = billing
        for _ in range(spec.net_days):
            day += ONE_DAY
        return day
    # the closing date: the first day from the billing date on that ends a closing period
    closing = billing
    while not (is_last_of_month(closing) if spec.close is None else closing.day == spec.close):
        closing += ONE_DAY
    # walk forward into the month `months` after the closing date's month
    day, crossed = closing, 0
    while crossed < spec.months:
        day += ONE_DAY
        if day.day == 1:
            crossed += 1
    # then to the pay day, or the month's last day when the month ends first
    while not is_last_of_month(day) and (spec.pay is None or day.day < spec.pay):
        day += ONE_DAY
    return day


def terms_of(spec: Spec) -> PaymentTerms:
    if spec.net_days is not None:
        return PaymentTerms.net(spec.net_days)
    close = MONTH_END if spec.close is None else spec.close
    return PaymentTerms.closing(close, spec.months, MONTH_END if spec.pay is None else spec.pay)


net_specs = st.integers(min_value=0, max_value=MAX_NET_DAYS).map(lambda n: Spec(net_days=n))
closing_specs = st.builds(
    Spec,
    close=st.none() | st.integers(min_value=1, max_value=28),
    months=st.integers(min_value=1, max_value=3),
    pay=st.none() | st.integers(min_value=1, max_value=31),
)
specs = net_specs | closing_specs
billing_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(spec=specs, billing=billing_dates)
def test_due_date_matches_the_calendar_walk_and_never_precedes_billing(spec, billing):
    terms = terms_of(spec)
    due = terms.due_date(billing)
    assert due == expected_due(spec, billing)
    assert due >= billing
    if terms.kind is TermsKind.CLOSING:
        assert billing <= terms.closing_date(billing) < due
        assert due - billing <= timedelta(
            days=31 * 5
        )  # a closing period, the rest of its month, three months


@given(
    spec=closing_specs,
    month=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)).map(lambda d: d.replace(day=1)),
    shift=st.integers(min_value=-1, max_value=1),
)
def test_billing_the_day_before_on_and_after_the_closing_day(spec, month, shift):
    """The edges a random date rarely hits: the day before, on, and after the closing day (or month end)."""
    edge = (
        month.replace(day=spec.close)
        if spec.close
        else (month.replace(day=28) + timedelta(days=4)).replace(day=1) - ONE_DAY
    )
    billing = edge + timedelta(days=shift)
    assert terms_of(spec).due_date(billing) == expected_due(spec, billing)


@given(spec=specs)
def test_code_and_japanese_label_round_trip(spec):
    terms = terms_of(spec)
    assert parse_terms(terms.code) == terms
    assert parse_terms(terms.label_ja) == terms
    assert parse_terms(terms.label_ja.translate(FULL_WIDTH)) == terms
    assert terms.code.isascii() and terms.code == terms.code.lower()


# --- written forms -----------------------------------------------------------------------------------------------


def digits(draw: st.DrawFn, number: int) -> str:
    text = str(number)
    return text.translate(FULL_WIDTH) if draw(st.booleans()) else text


def spaced(draw: st.DrawFn, text: str) -> str:
    """``text`` with spaces (ASCII or 全角) slipped in anywhere."""
    out = []
    for ch in text:
        out.append(ch)
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from([" ", "　", "  "])))
    return "".join(out)


@st.composite
def written(draw: st.DrawFn, spec: Spec) -> str:
    """One of the ways a person writes ``spec``."""
    if spec.net_days is not None:
        n = digits(draw, spec.net_days)
        form = draw(
            st.sampled_from(
                [
                    f"請求日から{n}日",
                    f"請求日から{n}日後",
                    f"請求日より{n}日",
                    f"請求後{n}日",
                    f"請求後{n}日以内",
                    f"納品後{n}日",
                    f"納品日から{n}日以内",
                    f"{n}日後",
                    f"NET{n}",
                    f"net {n}",
                    f"net_{n}",
                    f"Net-{n}",
                ]
            )
        )
        suffix = draw(st.sampled_from(["", "払い", "支払い", "に支払い"])) if "日" in form else ""
        return spaced(draw, form + suffix)
    if spec.close is None:
        close = draw(st.sampled_from(["月末締め", "末締め", "月末〆", "末日締め", "月末締", "毎月末締め"]))
        if spec.months == 1 or draw(st.booleans()):
            close = draw(st.sampled_from([close, ""]))  # 翌月末, 翌々月10日: month-end closing goes unsaid
    else:
        close = f"{digits(draw, spec.close)}日" + draw(st.sampled_from(["締め", "締", "〆"]))
    month = draw(
        st.sampled_from({1: ["翌月"], 2: ["翌々月", "翌翌月"], 3: ["翌々々月", "翌翌翌月"]}[spec.months])
    )
    pay = f"{digits(draw, spec.pay)}日" if spec.pay else draw(st.sampled_from(["末", "末日", "31日"]))
    suffix = draw(st.sampled_from(["", "払い", "払", "支払い", "支払", "まで", "までに支払い"]))
    return spaced(draw, close + month + pay + suffix)


@st.composite
def spec_and_form(draw: st.DrawFn) -> tuple[Spec, str]:
    spec = draw(specs)
    return spec, draw(written(spec))


@given(pair=spec_and_form())
def test_every_written_form_reads_as_its_canonical_code(pair):
    spec, text = pair
    terms = parse_terms(text)
    assert terms == terms_of(spec) == parse_terms(terms.code)


@given(pair=spec_and_form(), billing=billing_dates)
def test_written_forms_give_the_calendar_walks_due_date(pair, billing):
    spec, text = pair
    assert parse_terms(text).due_date(billing) == expected_due(spec, billing)


# --- refusals ----------------------------------------------------------------------------------------------------


@given(text=st.text(max_size=40))
def test_any_text_is_read_or_refused_with_a_message_never_crashes(text):
    try:
        terms = parse_terms(text)
    except ValueError as exc:
        message = str(exc)
    else:
        assert parse_terms(terms.code) == terms
        return
    assert "month_end_next_month_end" in message and "使える形式" in message


@given(
    close=st.integers(min_value=29, max_value=9999) | st.just(0),
    months=st.sampled_from(["翌月", "翌々月"]),
    pay=st.sampled_from(["末", "10日"]),
)
def test_closing_days_out_of_range_are_refused(close, months, pay):
    with pytest.raises(ValueError, match=f"closing day {close} is not 1-28"):
        parse_terms(f"{close}日締め{months}{pay}払い")


@given(
    pay=st.integers(min_value=32, max_value=9999) | st.just(0),
    close=st.sampled_from(["", "20日締め", "月末締め"]),
)
def test_pay_days_out_of_range_are_refused(pay, close):
    with pytest.raises(ValueError, match=f"pay day {pay} is not 1-31"):
        parse_terms(f"{close}翌月{pay}日払い")


@given(
    days=st.integers(min_value=MAX_NET_DAYS + 1, max_value=9999),
    form=st.sampled_from(["net {}", "請求日から{}日"]),
)
def test_net_days_beyond_a_year_are_refused(days, form):
    with pytest.raises(ValueError, match=f"{days} days is more than {MAX_NET_DAYS}"):
        parse_terms(form.format(days))
