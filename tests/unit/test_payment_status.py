"""payment_standing (invoice + accounting deal + today → what the deal shows) and company_rollup."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sdk.models.freee import AccountingDeal, Invoice
from sdk.settings import load_settings
from sdk.store import InvoiceRecord
from sdk.usecases.sync_payments import (
    PaymentRisk,
    PaymentStanding,
    PaymentStatus,
    company_rollup,
    payment_standing,
)

BILLED = date(2026, 11, 20)
DUE = date(2026, 12, 31)
TOTAL = 110_000


def record(due: date | None = DUE) -> InvoiceRecord:
    return InvoiceRecord(501, "INV-501", "https://example/501", 77, 100_000, 10_000, TOTAL, BILLED, due)


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
