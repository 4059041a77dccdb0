"""Many invoices per deal, pure (sdk.payments): a consolidated invoice's payment allocated over its charges oldest
first (charge_standings), a deal over all its invoices (deal_standing), and which rows a company counts (each freee
invoice once: InvoiceBook, company_rollups)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sdk.payments import (
    InvoiceBook,
    PaymentStanding,
    PaymentStatus,
    billed_inside,
    charge_standings,
    company_rollups,
    deal_of,
    deal_standing,
    period_of,
)
from sdk.settings import load_settings
from sdk.store import InvoiceRecord, LedgerRow, LedgerState

DUE = date(2027, 2, 28)
TODAY = date(2027, 2, 10)
WINDOW = "c789:2027-01-31"


def paid_invoice(
    total: int, payments: list[tuple[date, int]], due: date = DUE, today: date = TODAY
) -> PaymentStanding:
    """A consolidated invoice's standing as the sync reads it (its payments listed)."""
    paid = min(sum(amount for _, amount in payments), total)
    outstanding = total - paid
    status = (
        PaymentStatus.PAID
        if outstanding == 0
        else PaymentStatus.OVERDUE
        if today > due
        else PaymentStatus.PARTIALLY_PAID
        if paid
        else PaymentStatus.UNPAID
    )
    last = payments[-1][0] if payments else None
    return PaymentStanding(
        status,
        total,
        paid,
        outstanding,
        due,
        last if outstanding == 0 else None,
        last,
        max((today - due).days, 0) if status is PaymentStatus.OVERDUE else 0,
        payments=tuple(payments),
    )


# ----------------------------------------------------------------------------------- charges, oldest first


def test_a_partial_payment_pays_the_oldest_charge_first_and_the_next_in_part():
    charges = (("456:1", 55_000), ("457", 110_000), ("456:2", 55_000))
    invoice = paid_invoice(220_000, [(date(2027, 2, 3), 30_000), (date(2027, 2, 7), 50_000)])

    shown = charge_standings(invoice, charges, TODAY)

    assert [(shown[k].status, shown[k].amount_paid, shown[k].amount_outstanding) for k, _ in charges] == [
        (PaymentStatus.PAID, 55_000, 0),
        (PaymentStatus.PARTIALLY_PAID, 25_000, 85_000),
        (PaymentStatus.UNPAID, 0, 55_000),
    ]
    # the first charge was completed by the second payment; the second charge's part came from it too
    assert (shown["456:1"].paid_date, shown["456:1"].last_payment_date) == (
        date(2027, 2, 7),
        date(2027, 2, 7),
    )
    assert (shown["457"].paid_date, shown["457"].last_payment_date) == (None, date(2027, 2, 7))
    assert shown["456:2"].last_payment_date is None
    assert all(s.due_date == DUE for s in shown.values())


def test_charges_of_an_overdue_invoice_are_overdue_unless_paid():
    charges = (("456:1", 55_000), ("457", 110_000))
    late = DUE + timedelta(days=4)
    shown = charge_standings(paid_invoice(165_000, [(DUE, 55_000)], today=late), charges, late)
    assert (shown["456:1"].status, shown["457"].status) == (PaymentStatus.PAID, PaymentStatus.OVERDUE)
    assert shown["457"].days_overdue == 4


def test_a_cancelled_consolidated_invoice_cancels_every_charge():
    cancelled = PaymentStanding(None, 0, 0, 0, DUE, cancelled=True)
    shown = charge_standings(cancelled, (("456:1", 55_000), ("457", 110_000)), TODAY)
    assert all(s.cancelled and s.amount_outstanding == 0 for s in shown.values())


def test_a_settled_invoice_without_listed_payments_pays_its_charges_on_its_last_payment_date():
    invoice = PaymentStanding(PaymentStatus.PAID, 100, 100, 0, DUE, date(2027, 2, 1), date(2027, 2, 1))
    shown = charge_standings(invoice, (("1", 40), ("2", 60)), TODAY)
    assert [shown[k].paid_date for k in ("1", "2")] == [date(2027, 2, 1)] * 2


shares = st.lists(st.integers(min_value=0, max_value=500_000), min_size=1, max_size=12)


@hsettings(max_examples=300, deadline=None)
@given(amounts=shares, paid=st.integers(min_value=0, max_value=7_000_000))
def test_allocated_amounts_sum_to_what_was_paid_never_exceed_a_share_and_go_oldest_first(amounts, paid):
    charges = tuple((f"{n}:1", amount) for n, amount in enumerate(amounts, start=1))
    total = sum(amounts)
    on = date(2027, 2, 3)
    invoice = paid_invoice(total, [(on, min(paid, total))] if paid and total else [])

    shown = charge_standings(invoice, charges, TODAY)

    given_out = [shown[k].amount_paid for k, _ in charges]
    assert sum(given_out) == min(paid, total)
    assert all(0 <= p <= share for p, (_, share) in zip(given_out, charges, strict=True))
    assert all(shown[k].amount_paid + shown[k].amount_outstanding == share for k, share in charges)
    assert all(shown[k].last_payment_date == (on if shown[k].amount_paid else None) for k, _ in charges)
    for earlier, later in itertools.pairwise(charges):  # a later charge only once the earlier is paid in full
        if shown[later[0]].amount_paid > 0:
            assert shown[earlier[0]].amount_outstanding == 0


# ----------------------------------------------------------------------------------- a deal, many invoices


def standing(status: PaymentStatus, total: int, paid: int, due: date, **kw: object) -> PaymentStanding:
    return PaymentStanding(status, total, paid, total - paid, due, **kw)  # type: ignore[arg-type]


def test_a_deal_shows_the_oldest_unpaid_invoice_and_sums_the_rest():
    invoices = [
        standing(PaymentStatus.PAID, 110_000, 110_000, date(2027, 2, 28), paid_date=date(2027, 2, 20)),
        standing(PaymentStatus.OVERDUE, 55_000, 0, date(2027, 3, 31), days_overdue=5),
        standing(PaymentStatus.PARTIALLY_PAID, 55_000, 20_000, date(2027, 4, 30)),
        PaymentStanding(None, 0, 0, 0, date(2027, 5, 31), cancelled=True),
    ]

    deal = deal_standing(invoices)

    assert (deal.status, deal.due_date, deal.days_overdue) == (PaymentStatus.OVERDUE, date(2027, 3, 31), 5)
    assert (deal.amount_total, deal.amount_paid, deal.amount_outstanding) == (220_000, 130_000, 90_000)
    assert deal.paid_date is None


def test_a_deal_with_something_paid_and_nothing_late_is_partially_paid():
    deal = deal_standing(
        [
            standing(PaymentStatus.PAID, 100, 100, date(2027, 2, 28)),
            standing(PaymentStatus.UNPAID, 100, 0, date(2027, 3, 31)),
        ]
    )
    assert (deal.status, deal.due_date, deal.amount_outstanding) == (
        PaymentStatus.PARTIALLY_PAID,
        date(2027, 3, 31),
        100,
    )
    unpaid = deal_standing([standing(PaymentStatus.UNPAID, 100, 0, date(2027, 3, 31))] * 2)
    assert (unpaid.status, unpaid.amount_outstanding) == (PaymentStatus.UNPAID, 200)


def test_a_deal_is_paid_only_when_every_invoice_is_on_the_day_the_last_was():
    deal = deal_standing(
        [
            standing(PaymentStatus.PAID, 100, 100, date(2027, 2, 28), paid_date=date(2027, 3, 9)),
            standing(PaymentStatus.PAID, 100, 100, date(2027, 3, 31), paid_date=date(2027, 3, 2)),
        ]
    )
    assert (deal.status, deal.paid_date, deal.amount_paid) == (PaymentStatus.PAID, date(2027, 3, 9), 200)
    cancelled = deal_standing([PaymentStanding(None, 0, 0, 0, DUE, cancelled=True)])
    assert cancelled.cancelled and cancelled.status is None


@hsettings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=1_000_000),
    paid=st.integers(min_value=0, max_value=1_000_000),
    late=st.integers(min_value=-40, max_value=40),
)
def test_a_deal_with_one_invoice_shows_exactly_that_invoice(total, paid, late):
    paid = min(paid, total)
    due = TODAY - timedelta(days=late)
    one = paid_invoice(total, [(date(2027, 1, 5), paid)] if paid else [], due=due)

    deal = deal_standing([one])

    assert (deal.status, deal.amount_total, deal.amount_paid, deal.amount_outstanding) == (
        one.status,
        one.amount_total,
        one.amount_paid,
        one.amount_outstanding,
    )
    assert (deal.due_date, deal.paid_date, deal.days_overdue) == (
        one.due_date,
        one.paid_date,
        one.days_overdue,
    )


# ------------------------------------------------------------------------------- rows: each invoice once


def row(key: str, total: int, *, charges: tuple[tuple[str, int], ...] = (), invoice_id: int = 1) -> LedgerRow:
    record = InvoiceRecord(
        invoice_id, f"INV-{invoice_id}", "https://x", 77, total, 0, total, date(2027, 1, 31), DUE
    )
    return LedgerRow(1, key, LedgerState.CREATED, 3, company_id="789", invoice=record, charges=charges)


def test_keys_name_their_deal_and_period_and_charges_name_their_consolidated_invoice():
    assert [deal_of(k) for k in ("456", "456:3", WINDOW)] == ["456", "456", None]
    assert [period_of(k) for k in ("456", "456:3", WINDOW)] == [None, 3, None]
    assert billed_inside(row("456:1", 55_000, charges=((WINDOW, 55_000),))) == WINDOW
    assert billed_inside(row(WINDOW, 165_000, charges=(("456:1", 55_000), ("457", 110_000)))) is None
    assert billed_inside(row("457", 10)) is None


def test_a_consolidated_invoice_counts_once_for_its_company_never_again_through_its_charges():
    rows = [
        row(WINDOW, 165_000, charges=(("456:1", 55_000), ("457", 110_000)), invoice_id=9),
        row("456:1", 55_000, charges=((WINDOW, 55_000),), invoice_id=9),
        row("457", 110_000, charges=((WINDOW, 110_000),), invoice_id=9),
        row("456:2", 55_000, invoice_id=10),  # a period billed on its own invoice
        LedgerRow(1, "456", LedgerState.SCHEDULED, 2, company_id="789"),
    ]
    book = InvoiceBook.of(rows)

    assert sorted(r.deal_id for r in book.invoices) == ["456:2", WINDOW]
    assert [r.deal_id for r in book.deals[(1, "456")]] == ["456:1", "456:2"]
    assert [r.deal_id for r in book.deals[(1, "457")]] == ["457"]
    assert book.deal_rows[(1, "456")].state is LedgerState.SCHEDULED
    assert [r.deal_id for r in book.charges_of(rows[0])] == ["456:1", "457"]
    rollup = company_rollups(rows, load_settings(), TODAY)[(1, "789")]
    assert rollup.outstanding_total == 165_000 + 55_000  # not 165,000 more for the charges
