"""Payment rules, pure (no I/O): what an invoice's deal shows and what its company rolls up to, on a given day.

- :func:`payment_standing`: one invoice from what freee says (the invoice and its accounting deal) on ``today``:
  paid, partially paid, unpaid or overdue, with the amounts paid and outstanding and the days overdue;
- :func:`standing_as_of`: one invoice as its deal was last written, moved to ``today`` (no freee call);
- :func:`company_rollup`: one company's outstanding and overdue balance over its invoices, and its risk flag;
- :func:`company_rollups`: which ledger rows count for which company, and each company's rollup over them.

The payment sync (:mod:`sdk.usecases.sync_payments`) writes these to HubSpot; the balance card
(:mod:`sdk.usecases.balance`) shows them, through the same :func:`company_rollups`, so the card shows what the
sync wrote to the company. Dates are Asia/Tokyo calendar dates; money is int yen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from sdk.models.freee import AccountingDeal, Invoice
from sdk.store import InvoiceRecord, LedgerRow, LedgerState

if TYPE_CHECKING:
    from sdk.settings import Settings


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"


class PaymentRisk(StrEnum):
    """A company's flag (:func:`company_rollup`): ``overdue`` when an invoice is late past the grace days
    (``payment_risk_overdue_grace_days``); ``watch`` when one is late within them, partly paid, or due within
    ``payment_risk_watch_days``; else ``none``."""

    NONE = "none"
    WATCH = "watch"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class PaymentStanding:
    """What one invoice's deal shows. ``status`` is None for a cancelled invoice (its balance is cleared)."""

    status: PaymentStatus | None
    amount_total: int
    amount_paid: int
    amount_outstanding: int
    due_date: date | None
    paid_date: date | None = None
    last_payment_date: date | None = None
    days_overdue: int = 0
    cancelled: bool = False


def payment_standing(
    record: InvoiceRecord, invoice: Invoice | None, accounting: AccountingDeal | None, today: date
) -> PaymentStanding:
    """The payment state of one invoice on ``today`` (Asia/Tokyo).

    - cancelled in freee → no status, nothing paid or outstanding;
    - with its accounting deal: paid = total − the deal's ``due_amount`` (never below 0 nor above the total,
      whatever freee says), the paid date is the date of the payment that completed it;
    - without one (not registered yet): nothing paid, all outstanding, unless freee already says settled;
    - not fully paid and past the due date (due today is not late) → ``overdue`` with its days overdue.
    """
    due = (
        (accounting.due_date if accounting is not None else None)
        or (invoice.payment_date if invoice is not None else None)
        or record.due_date
    )
    if invoice is not None and invoice.is_canceled:
        return PaymentStanding(None, 0, 0, 0, due, cancelled=True)
    payments: list[tuple[date, int]] = []
    if accounting is not None:
        total = accounting.amount
        outstanding = min(max(accounting.due_amount, 0), total)
        if accounting.status == "settled":
            outstanding = 0
        payments = sorted((p.date, p.amount) for p in accounting.payments)
    else:
        total = invoice.total_amount if invoice is not None else record.amount_total
        settled = invoice is not None and invoice.payment_status == "settled"
        outstanding = 0 if settled else total
    paid = total - outstanding
    last_payment = payments[-1][0] if payments else None
    paid_date = _completed_on(payments, total) if outstanding == 0 and paid > 0 else None
    return _standing(total, paid, outstanding, due, today, paid_date, last_payment)


def standing_as_of(row: LedgerRow, settings: Settings, today: date) -> PaymentStanding:
    """A row's invoice as its deal was last written, with status and days overdue moved to ``today`` (no freee
    call: the company rollup of rows not read this time, and the balance card).

    Before the first sync nothing is written yet: the whole amount is outstanding. A cancelled invoice has no
    status and no balance.
    """
    invoice = row.invoice
    assert invoice is not None  # noqa: S101 - callers pass invoiced rows
    names = settings.properties
    written = row.written
    due = invoice.due_date
    if row.state is LedgerState.CANCELLED or written.get(names.deal_sync_status) == "cancelled":
        return PaymentStanding(None, 0, 0, 0, due, cancelled=True)
    total = invoice.amount_total
    outstanding = min(max(_written_int(written.get(names.deal_amount_outstanding), total), 0), total)
    paid = _written_int(written.get(names.deal_amount_paid), total - outstanding)
    paid_date = _written_date(written.get(names.deal_paid_date))
    # the latest payment as the sync read it from freee (a partial one too); a row kept before: the paid date
    last_payment = invoice.last_payment_date or paid_date
    return _standing(
        total, paid, outstanding, due, today, paid_date if outstanding == 0 else None, last_payment
    )


def _standing(
    total: int,
    paid: int,
    outstanding: int,
    due: date | None,
    today: date,
    paid_date: date | None,
    last_payment: date | None,
) -> PaymentStanding:
    """The status rule: nothing outstanding → paid; past the due date (due today is not late) → overdue;
    something paid → partially paid; else unpaid."""
    if outstanding == 0:
        return PaymentStanding(PaymentStatus.PAID, total, paid, 0, due, paid_date, last_payment)
    late = (today - due).days if due is not None else 0
    if late > 0:
        status = PaymentStatus.OVERDUE
    elif paid > 0:
        status = PaymentStatus.PARTIALLY_PAID
    else:
        status = PaymentStatus.UNPAID
    return PaymentStanding(status, total, paid, outstanding, due, None, last_payment, max(late, 0))


def _completed_on(payments: Sequence[tuple[date, int]], total: int) -> date | None:
    """The date of the payment that brought the sum to the total (the last one, if they never quite do)."""
    running = 0
    for day, amount in payments:
        running += amount
        if running >= total:
            return day
    return payments[-1][0] if payments else None


# ------------------------------------------------------------------------------------------ company rollup


@dataclass(frozen=True, slots=True)
class CompanyRollup:
    outstanding_total: int = 0
    overdue_total: int = 0
    overdue_invoice_count: int = 0
    oldest_overdue_days: int = 0
    last_payment_date: date | None = None
    risk: PaymentRisk = PaymentRisk.NONE


def company_rollup(standings: Iterable[PaymentStanding], today: date, settings: Settings) -> CompanyRollup:
    """One company's totals over its invoices' standings, and its risk flag (thresholds in settings)."""
    outstanding = overdue = count = oldest = 0
    last: date | None = None
    watch = late = False
    for s in standings:
        if s.last_payment_date is not None and (last is None or s.last_payment_date > last):
            last = s.last_payment_date
        if s.status is None or s.amount_outstanding <= 0:
            continue
        outstanding += s.amount_outstanding
        if s.status is PaymentStatus.OVERDUE:
            overdue += s.amount_outstanding
            count += 1
            oldest = max(oldest, s.days_overdue)
            if s.days_overdue > settings.payment_risk_overdue_grace_days:
                late = True
            else:
                watch = True
        elif s.status is PaymentStatus.PARTIALLY_PAID or _due_soon(s, today, settings):
            watch = True
    risk = PaymentRisk.OVERDUE if late else PaymentRisk.WATCH if watch else PaymentRisk.NONE
    return CompanyRollup(outstanding, overdue, count, oldest, last, risk)


def invoiced(row: LedgerRow) -> bool:
    """A row whose invoice exists (or existed: cancelled), the rows a company rolls up."""
    return row.invoice is not None and row.state in (LedgerState.CREATED, LedgerState.CANCELLED)


def company_rollups(
    rows: Iterable[LedgerRow],
    settings: Settings,
    today: date,
    fresh: Mapping[tuple[int, str], PaymentStanding] | None = None,
) -> dict[tuple[int, str], CompanyRollup]:
    """Each company's rollup, by (portal, company id), over its invoiced rows: a row's standing is the one read
    from freee just now (``fresh``, by portal and deal), else the one its deal was last written with
    (:func:`standing_as_of`). The payment sync writes these to the companies; the balance card shows them."""
    by_company: dict[tuple[int, str], list[PaymentStanding]] = {}
    for row in rows:
        if row.company_id is None or not invoiced(row):
            continue
        standing = (fresh or {}).get((row.portal_id, row.deal_id)) or standing_as_of(row, settings, today)
        by_company.setdefault((row.portal_id, row.company_id), []).append(standing)
    return {key: company_rollup(found, today, settings) for key, found in sorted(by_company.items())}


def _due_soon(s: PaymentStanding, today: date, settings: Settings) -> bool:
    return s.due_date is not None and (s.due_date - today).days <= settings.payment_risk_watch_days


def _written_int(text: str | None, default: int) -> int:
    """A number read back from a HubSpot property value (``default`` when absent or unreadable)."""
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _written_date(text: str | None) -> date | None:
    """A date read back from a HubSpot property value (``None`` when absent or unreadable)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
