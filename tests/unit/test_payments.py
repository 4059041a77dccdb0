"""The payment rules (sdk.payments): payment_standing (invoice + accounting deal + today → what the deal shows),
standing_as_of (what the deal was last written, moved to today) and company_rollup."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sdk.models.freee import AccountingDeal, Invoice
from sdk.payments import (
    PaymentRisk,
    PaymentStanding,
    PaymentStatus,
    company_rollup,
    payment_standing,
    standing_as_of,
)
from sdk.settings import load_settings
from sdk.store import InvoiceRecord, LedgerRow, LedgerState

BILLED = date(2026, 11, 20)
DUE = date(2026, 12, 31)
TOTAL = 110_000


def record(due: date | None = DUE, total: int = TOTAL) -> InvoiceRecord:
    net = total * 10 // 11
    return InvoiceRecord(501, "INV-501", "https://example/501", 77, net, total - net, total, BILLED, due)


def invoice(**changes: Any) -> Invoice:
    data: dict[str, Any] = {
        "id": 501,
        "company_id": 1,
        "invoice_number": "INV-501",
        "billing_date": BILLED.isoformat(),
        "payment_date": DUE.isoformat(),
        "payment_status": "unsettled",
        "cancel_status": "uncanceled",
        "deal_status": "registered",
        "deal_id": 9,
        "total_amount": TOTAL,
        "amount_including_tax": TOTAL,
        "amount_excluding_tax": 100_000,
        "amount_tax": 10_000,
        "partner_id": 77,
        "report_url": "https://example/501",
    }
    return Invoice.model_validate(data | changes)


def accounting(
    *payments: tuple[date, int], due_amount: int | None = None, due: date | None = DUE
) -> AccountingDeal:
    paid = sum(amount for _, amount in payments)
    left = TOTAL - paid if due_amount is None else due_amount
    return AccountingDeal.model_validate(
        {
            "id": 9,
            "company_id": 1,
            "issue_date": BILLED.isoformat(),
            "due_date": due.isoformat() if due else None,
            "amount": TOTAL,
            "due_amount": left,
            "type": "income",
            "status": "settled" if left <= 0 else "unsettled",
            "payments": [
                {"id": i + 1, "date": day.isoformat(), "amount": amount}
                for i, (day, amount) in enumerate(payments)
            ],
        }
    )


def test_paid_in_full_is_paid_on_the_payment_date():
    s = payment_standing(
        record(), invoice(payment_status="settled"), accounting((date(2026, 12, 5), TOTAL)), DUE
    )
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PAID, TOTAL, 0)
    assert s.paid_date == date(2026, 12, 5)
    assert s.days_overdue == 0


def test_paid_in_part_before_the_due_date_is_partially_paid():
    s = payment_standing(record(), invoice(), accounting((date(2026, 12, 5), 40_000)), date(2026, 12, 10))
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PARTIALLY_PAID, 40_000, 70_000)
    assert s.paid_date is None
    assert s.last_payment_date == date(2026, 12, 5)


def test_paid_twice_in_part_to_the_full_amount_is_paid_on_the_second_date():
    deal = accounting((date(2026, 12, 20), 70_000), (date(2026, 12, 5), 40_000))
    s = payment_standing(record(), invoice(payment_status="settled"), deal, date(2027, 1, 10))
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PAID, TOTAL, 0)
    assert s.paid_date == date(2026, 12, 20)


def test_paid_twice_in_part_short_of_the_total_stays_partially_paid():
    deal = accounting((date(2026, 12, 5), 40_000), (date(2026, 12, 20), 30_000))
    s = payment_standing(record(), invoice(), deal, DUE)
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PARTIALLY_PAID, 70_000, 40_000)
    assert s.last_payment_date == date(2026, 12, 20)


def test_not_paid_at_all_is_unpaid_with_everything_outstanding():
    s = payment_standing(record(), invoice(), accounting(), date(2026, 11, 25))
    assert (s.status, s.amount_paid, s.amount_outstanding, s.days_overdue) == (
        PaymentStatus.UNPAID,
        0,
        TOTAL,
        0,
    )


def test_past_the_due_date_and_not_fully_paid_is_overdue_by_the_days_since():
    s = payment_standing(record(), invoice(), accounting((date(2026, 12, 5), 10_000)), date(2027, 1, 10))
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.OVERDUE, 10_000, 100_000)
    assert s.days_overdue == 10


def test_due_today_is_not_overdue_and_due_yesterday_is_one_day_overdue():
    on_due = payment_standing(record(), invoice(), accounting(), DUE)
    day_after = payment_standing(record(), invoice(), accounting(), date(2027, 1, 1))
    assert (on_due.status, on_due.days_overdue) == (PaymentStatus.UNPAID, 0)
    assert (day_after.status, day_after.days_overdue) == (PaymentStatus.OVERDUE, 1)


def test_paid_in_full_after_the_due_date_is_paid_not_overdue():
    s = payment_standing(record(), invoice(), accounting((date(2027, 2, 1), TOTAL)), date(2027, 3, 1))
    assert (s.status, s.days_overdue, s.paid_date) == (PaymentStatus.PAID, 0, date(2027, 2, 1))


def test_cancelled_invoice_clears_the_balance():
    s = payment_standing(
        record(),
        invoice(cancel_status="canceled", deal_status="unregistered", deal_id=None),
        None,
        date(2027, 3, 1),
    )
    assert s.cancelled
    assert s.status is None
    assert (s.amount_paid, s.amount_outstanding, s.days_overdue) == (0, 0, 0)


def test_unregistered_invoice_is_judged_from_the_invoice_alone():
    unregistered = invoice(deal_status="unregistered", deal_id=None)
    before = payment_standing(record(), unregistered, None, date(2026, 12, 1))
    after = payment_standing(record(), unregistered, None, date(2027, 1, 5))
    assert (before.status, before.amount_outstanding, before.amount_paid) == (PaymentStatus.UNPAID, TOTAL, 0)
    assert (after.status, after.days_overdue) == (PaymentStatus.OVERDUE, 5)


def test_unregistered_but_settled_invoice_is_paid():
    s = payment_standing(record(), invoice(payment_status="settled", deal_id=None), None, date(2027, 1, 5))
    assert (s.status, s.amount_outstanding) == (PaymentStatus.PAID, 0)


def test_overpaid_deal_is_paid_never_more_than_the_total_nor_a_negative_balance():
    deal = accounting((date(2026, 12, 5), 100_000), (date(2026, 12, 6), 20_000), due_amount=-10_000)
    s = payment_standing(record(), invoice(payment_status="settled"), deal, date(2027, 1, 5))
    assert (s.status, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PAID, TOTAL, 0)
    assert s.paid_date == date(2026, 12, 6)


def test_no_due_date_is_never_overdue():
    s = payment_standing(record(due=None), invoice(payment_date=None), accounting(due=None), date(2030, 1, 1))
    assert (s.status, s.days_overdue) == (PaymentStatus.UNPAID, 0)


def test_the_due_date_is_the_accounting_deals_then_the_invoices_then_the_ledgers():
    later = DUE + timedelta(days=10)
    day = DUE + timedelta(days=5)
    by_deal = payment_standing(record(), invoice(), accounting(due=later), day)
    assert (by_deal.due_date, by_deal.status) == (later, PaymentStatus.UNPAID)
    by_invoice = payment_standing(record(), invoice(payment_date=later.isoformat()), None, day)
    assert (by_invoice.due_date, by_invoice.status) == (later, PaymentStatus.UNPAID)
    by_ledger = payment_standing(record(due=later), None, accounting(due=None), day)
    assert (by_ledger.due_date, by_ledger.status) == (later, PaymentStatus.UNPAID)
    assert payment_standing(record(), invoice(), accounting(), day).days_overdue == 5


def test_paid_exactly_on_the_due_date_is_paid_that_day_and_never_overdue():
    s = payment_standing(record(), invoice(payment_status="settled"), accounting((DUE, TOTAL)), DUE)
    assert (s.status, s.amount_paid, s.amount_outstanding, s.paid_date) == (PaymentStatus.PAID, TOTAL, 0, DUE)
    later = payment_standing(
        record(), invoice(payment_status="settled"), accounting((DUE, TOTAL)), DUE.replace(year=2027)
    )
    assert (later.status, later.days_overdue) == (PaymentStatus.PAID, 0)


def test_a_zero_amount_invoice_has_nothing_outstanding_and_is_paid_without_a_paid_date():
    zero = invoice(
        total_amount=0,
        amount_including_tax=0,
        amount_excluding_tax=0,
        amount_tax=0,
        deal_status="unregistered",
        deal_id=None,
    )
    s = payment_standing(record(total=0), zero, None, DUE + timedelta(days=30))
    assert (s.status, s.amount_total, s.amount_paid, s.amount_outstanding) == (PaymentStatus.PAID, 0, 0, 0)
    assert (s.paid_date, s.days_overdue) == (None, 0)


# ---------------------------------------------------------------------------------- as of a day, no freee call


def row(written: dict[str, str] | None = None, state: LedgerState = LedgerState.CREATED) -> LedgerRow:
    return LedgerRow(24681357, "301", state, 3, invoice=record(), written=written or {})


def written(settings: Any, *, paid: int, outstanding: int, paid_date: date | None = None) -> dict[str, str]:
    names = settings.properties
    return {
        names.deal_amount_paid: str(paid),
        names.deal_amount_outstanding: str(outstanding),
        names.deal_paid_date: paid_date.isoformat() if paid_date else "",
    }


def test_before_the_first_sync_the_whole_amount_is_outstanding_and_late_only_after_the_due_date():
    settings = load_settings()
    on_due = standing_as_of(row(), settings, DUE)
    assert (on_due.status, on_due.amount_outstanding, on_due.days_overdue) == (PaymentStatus.UNPAID, TOTAL, 0)
    after = standing_as_of(row(), settings, DUE + timedelta(days=3))
    assert (after.status, after.amount_outstanding, after.days_overdue) == (PaymentStatus.OVERDUE, TOTAL, 3)


def test_as_of_a_later_day_a_partly_paid_invoice_turns_overdue_and_a_paid_one_stays_paid():
    settings = load_settings()
    part = row(written(settings, paid=10_000, outstanding=TOTAL - 10_000))
    assert standing_as_of(part, settings, DUE).status is PaymentStatus.PARTIALLY_PAID
    late = standing_as_of(part, settings, DUE + timedelta(days=10))
    assert (late.status, late.amount_outstanding, late.days_overdue) == (PaymentStatus.OVERDUE, 100_000, 10)
    paid = row(written(settings, paid=TOTAL, outstanding=0, paid_date=DUE))
    s = standing_as_of(paid, settings, DUE + timedelta(days=100))
    assert (s.status, s.paid_date, s.days_overdue) == (PaymentStatus.PAID, DUE, 0)


def test_as_of_any_day_an_overpaid_write_reads_as_paid_and_never_a_negative_balance():
    settings = load_settings()
    s = standing_as_of(row(written(settings, paid=TOTAL + 5_000, outstanding=-5_000)), settings, DUE)
    assert (s.status, s.amount_outstanding) == (PaymentStatus.PAID, 0)


def test_a_cancelled_row_has_no_status_and_no_balance_on_any_day():
    settings = load_settings()
    for cancelled in (
        row(state=LedgerState.CANCELLED),
        row({settings.properties.deal_sync_status: "cancelled"}),
    ):
        s = standing_as_of(cancelled, settings, DUE + timedelta(days=400))
        assert s.cancelled
        assert (s.status, s.amount_outstanding, s.days_overdue) == (None, 0, 0)


# ------------------------------------------------------------------------------------------------ rollup


def standing(status: PaymentStatus | None, outstanding: int, **kw: Any) -> PaymentStanding:
    return PaymentStanding(status, TOTAL, TOTAL - outstanding, outstanding, kw.pop("due", DUE), **kw)


def test_rollup_sums_outstanding_and_overdue_and_finds_the_oldest():
    settings = load_settings()
    today = date(2027, 1, 20)
    rollup = company_rollup(
        [
            standing(PaymentStatus.OVERDUE, 50_000, days_overdue=20, last_payment_date=date(2027, 1, 2)),
            standing(PaymentStatus.OVERDUE, 10_000, days_overdue=5),
            standing(PaymentStatus.UNPAID, 30_000, due=date(2027, 3, 31)),
            standing(PaymentStatus.PAID, 0, paid_date=date(2027, 1, 9), last_payment_date=date(2027, 1, 9)),
            standing(None, 0, cancelled=True),
        ],
        today,
        settings,
    )
    assert (rollup.outstanding_total, rollup.overdue_total) == (90_000, 60_000)
    assert (rollup.overdue_invoice_count, rollup.oldest_overdue_days) == (2, 20)
    assert rollup.last_payment_date == date(2027, 1, 9)
    assert rollup.risk is PaymentRisk.OVERDUE


def test_risk_is_none_when_nothing_is_due_soon_watch_when_partly_paid_or_due_soon():
    settings = load_settings(payment_risk_watch_days=7)
    today = date(2026, 12, 1)
    far = standing(PaymentStatus.UNPAID, TOTAL, due=date(2026, 12, 31))
    soon = standing(PaymentStatus.UNPAID, TOTAL, due=date(2026, 12, 8))
    part = standing(PaymentStatus.PARTIALLY_PAID, 10_000, due=date(2026, 12, 31))
    assert company_rollup([far], today, settings).risk is PaymentRisk.NONE
    assert company_rollup([far, soon], today, settings).risk is PaymentRisk.WATCH
    assert company_rollup([part], today, settings).risk is PaymentRisk.WATCH
    assert company_rollup([], today, settings) == company_rollup([standing(None, 0)], today, settings)


def test_overdue_within_the_grace_days_is_watch_beyond_it_overdue():
    settings = load_settings(payment_risk_overdue_grace_days=3)
    today = date(2027, 1, 10)
    assert (
        company_rollup([standing(PaymentStatus.OVERDUE, 1, days_overdue=3)], today, settings).risk == "watch"
    )
    assert (
        company_rollup([standing(PaymentStatus.OVERDUE, 1, days_overdue=4)], today, settings).risk
        == "overdue"
    )


def test_an_invoice_due_today_puts_its_company_on_watch_and_counts_as_outstanding_not_overdue():
    settings = load_settings(payment_risk_watch_days=0)
    rollup = company_rollup([standing(PaymentStatus.UNPAID, TOTAL, due=DUE)], DUE, settings)
    assert (rollup.outstanding_total, rollup.overdue_total, rollup.overdue_invoice_count) == (TOTAL, 0, 0)
    assert rollup.risk is PaymentRisk.WATCH


def test_paid_and_cancelled_invoices_add_nothing_to_the_balance():
    settings = load_settings()
    rollup = company_rollup(
        [standing(PaymentStatus.PAID, 0), standing(None, 0, cancelled=True)],
        DUE + timedelta(days=90),
        settings,
    )
    assert (rollup.outstanding_total, rollup.overdue_total, rollup.risk) == (0, 0, PaymentRisk.NONE)
