"""Payment rules, pure (no I/O): what an invoice's deal shows and what its company rolls up to, on a given day.

- :func:`payment_standing`: one invoice from what freee says (the invoice and its accounting deal) on ``today``:
  paid, partially paid, unpaid or overdue, with the amounts paid and outstanding and the days overdue;
- :func:`standing_as_of`: one invoice as it was last written, moved to ``today`` (no freee call);
- :func:`charge_standings`: a consolidated invoice's payment allocated over the charges it bills, oldest first;
- :func:`deal_standing`: what a deal shows over all its invoices (a deal billed per period has many; a charge on a
  consolidated invoice counts for its share);
- :func:`company_rollup`: one company's outstanding and overdue balance over its invoices, and its risk flag;
- :func:`company_rollups`: which ledger rows count for which company (each freee invoice once), and each company's
  rollup over them; :class:`InvoiceBook` groups a ledger's rows per freee invoice and per deal.

A ledger row that holds an invoice is one of three (keys as :mod:`sdk.billing.units` has them): a freee invoice of
its own (``456`` a deal billed once, ``456:3`` a period, ``c789:2027-01-31`` a company's consolidated invoice), or a
*charge* billed inside a consolidated invoice (``456:3`` or ``457`` whose ``charges`` name that one invoice's key,
its ``invoice`` that invoice for the charge's share: :func:`billed_inside`). A freee invoice is read and counted
once; a charge takes its part of the consolidated invoice's payments.

The payment sync (:mod:`sdk.usecases.sync_payments`) writes these to HubSpot; the balance card
(:mod:`sdk.usecases.balance`) shows them, through the same :func:`company_rollups`, so the card shows what the
sync wrote to the company. Dates are Asia/Tokyo calendar dates; money is int yen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from sdk.billing.consolidation import allocate
from sdk.billing.units import Unit, UnitKeyError
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
    """What one invoice's deal shows (or a deal over all its invoices: :func:`deal_standing`). ``status`` is None
    for a cancelled invoice (its balance is cleared)."""

    status: PaymentStatus | None
    amount_total: int
    amount_paid: int
    amount_outstanding: int
    due_date: date | None
    paid_date: date | None = None
    last_payment_date: date | None = None
    days_overdue: int = 0
    cancelled: bool = False
    payments: tuple[tuple[date, int], ...] = ()
    """The invoice's payments (date, yen), oldest first, as freee listed them just now (empty when not read):
    which payment paid which charge of a consolidated invoice (:func:`charge_standings`)."""


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
    standing = _standing(total, paid, outstanding, due, today, paid_date, last_payment)
    return replace(standing, payments=tuple(payments))


def standing_as_of(row: LedgerRow, settings: Settings, today: date) -> PaymentStanding:
    """A row's invoice as it was last written, with status and days overdue moved to ``today`` (no freee call: the
    company rollup of rows not read this time, and the balance card). A deal billed once: what its deal shows; a
    period, a charge or a consolidated invoice: what the payment sync last worked out for it (kept on its row).

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


# ---------------------------------------------------------------------------------- many invoices, one deal


def charge_standings(
    invoice: PaymentStanding, charges: Sequence[tuple[str, int]], today: date
) -> dict[str, PaymentStanding]:
    """Each charge of a consolidated invoice (``charges``: unit key and share in yen, oldest first) as its deal
    shows it, by unit key: what the invoice has been paid is allocated over the charges oldest first
    (:func:`~sdk.billing.consolidation.allocate`: each is paid in full before the next gets anything), every
    charge due when the invoice is. A charge's last payment is the payment that reached its part of the running
    total; it is paid on the day that payment reached its end. A cancelled invoice cancels every charge."""
    if invoice.cancelled:
        return {key: PaymentStanding(None, 0, 0, 0, invoice.due_date, cancelled=True) for key, _ in charges}
    allocation = allocate(charges, invoice.amount_paid)
    out: dict[str, PaymentStanding] = {}
    before = 0
    for key, share in charges:
        total = max(share, 0)
        paid = allocation.paid.get(key, 0)
        last = _reached(invoice, before + paid) if paid > 0 else None
        out[key] = _standing(
            total, paid, total - paid, invoice.due_date, today, last if paid == total else None, last
        )
        before += total
    return out


def _reached(invoice: PaymentStanding, amount: int) -> date | None:
    """The date of the invoice's payment that brought its running total to ``amount`` (its latest payment when
    the payments listed do not reach it, as when freee settled the invoice without listing them)."""
    running = 0
    for day, paid in invoice.payments:
        running += paid
        if running >= amount:
            return day
    return invoice.last_payment_date or invoice.paid_date


def deal_standing(standings: Sequence[PaymentStanding]) -> PaymentStanding:
    """What a deal shows over all its invoices (oldest first; a charge on a consolidated invoice for its share):
    invoiced, paid and outstanding summed over those not cancelled; the status, due date and days overdue of the
    oldest unpaid one (the first due), where the deal is ``overdue`` when that one is, else ``partially_paid`` when
    anything was paid, else ``unpaid``; ``paid`` only when every one is, on the day the last was paid in full.
    Every invoice cancelled: cancelled, no balance. One invoice: exactly that invoice's standing."""
    live = [s for s in standings if not s.cancelled]
    last_payment = max((s.last_payment_date for s in standings if s.last_payment_date), default=None)
    if not live:
        due = max((s.due_date for s in standings if s.due_date), default=None)
        return PaymentStanding(None, 0, 0, 0, due, last_payment_date=last_payment, cancelled=True)
    total = sum(s.amount_total for s in live)
    paid = sum(s.amount_paid for s in live)
    outstanding = sum(s.amount_outstanding for s in live)
    unpaid = sorted(
        (i for i, s in enumerate(live) if s.amount_outstanding > 0),
        key=lambda i: (live[i].due_date or date.max, i),
    )
    if not unpaid:
        paid_on = max((s.paid_date for s in live if s.paid_date), default=None)
        due = max((s.due_date for s in live if s.due_date), default=None)
        return PaymentStanding(PaymentStatus.PAID, total, paid, 0, due, paid_on, last_payment)
    oldest = live[unpaid[0]]
    if oldest.status is PaymentStatus.OVERDUE:
        status = PaymentStatus.OVERDUE
    elif paid > 0:
        status = PaymentStatus.PARTIALLY_PAID
    else:
        status = PaymentStatus.UNPAID
    days = oldest.days_overdue if status is PaymentStatus.OVERDUE else 0
    return PaymentStanding(status, total, paid, outstanding, oldest.due_date, None, last_payment, days)


# ------------------------------------------------------------------------------------- rows → invoices, deals


def billed_inside(row: LedgerRow) -> str | None:
    """The consolidated invoice (its unit key) a row is one charge of, or None: a row whose ``charges`` name one
    consolidated invoice is billed inside it (its ``invoice`` is that invoice, for the charge's share)."""
    if len(row.charges) != 1:
        return None
    key = row.charges[0][0]
    return key if _consolidated(key) else None


def deal_of(key: str) -> str | None:
    """The HubSpot deal a ledger key bills (``456`` and ``456:3`` → ``456``); None for a consolidated invoice."""
    try:
        unit = Unit.from_key(key)
    except UnitKeyError:
        return key  # not a billing unit's shape: a deal's own row, as every row was once
    return unit.deal_id


def period_of(key: str) -> int | None:
    """The period number of a ``456:3`` key; None for a deal billed once or a consolidated invoice."""
    try:
        return Unit.from_key(key).period
    except UnitKeyError:
        return None


def _consolidated(key: str) -> bool:
    try:
        return Unit.from_key(key).is_consolidated
    except UnitKeyError:
        return False


def invoiced(row: LedgerRow) -> bool:
    """A row whose invoice exists (or existed: cancelled), the rows a company rolls up."""
    return row.invoice is not None and row.state in (LedgerState.CREATED, LedgerState.CANCELLED)


def counts_once(row: LedgerRow) -> bool:
    """An invoiced row that is a freee invoice of its own (a deal's, a period's or a consolidated one), not a
    charge billed inside a consolidated invoice: what the sync reads and a company counts, each once."""
    return invoiced(row) and billed_inside(row) is None


def oldest_first(row: LedgerRow) -> tuple[date, int, str]:
    """A deal's invoices in order: by billing date, then period."""
    billed = row.invoice.billing_date if row.invoice is not None else date.max
    return (billed, period_of(row.deal_id) or 0, row.deal_id)


@dataclass(frozen=True)
class InvoiceBook:
    """A ledger's rows grouped as the payment sync needs them, by (portal, key):

    - ``invoices``: every freee invoice once (:func:`counts_once`);
    - ``deals``: each deal's invoices and charges, oldest first (:func:`oldest_first`), by (portal, deal id);
    - ``deal_rows``: each deal's own row (``456``: the invoice of a deal billed once, or the ``scheduled`` row of a
      deal billed per period, which keeps what the deal shows);
    - ``rows``: every row by (portal, key), to find a consolidated invoice's charges."""

    invoices: tuple[LedgerRow, ...]
    deals: Mapping[tuple[int, str], tuple[LedgerRow, ...]]
    deal_rows: Mapping[tuple[int, str], LedgerRow]
    rows: Mapping[tuple[int, str], LedgerRow]

    @classmethod
    def of(cls, rows: Iterable[LedgerRow]) -> InvoiceBook:
        every = {(r.portal_id, r.deal_id): r for r in rows}
        deals: dict[tuple[int, str], list[LedgerRow]] = {}
        deal_rows: dict[tuple[int, str], LedgerRow] = {}
        for (portal_id, key), row in every.items():
            deal = deal_of(key)
            if deal is None:
                continue
            if deal == key:
                deal_rows[(portal_id, deal)] = row
            if invoiced(row):
                deals.setdefault((portal_id, deal), []).append(row)
        return cls(
            invoices=tuple(r for r in every.values() if counts_once(r)),
            deals={k: tuple(sorted(v, key=oldest_first)) for k, v in deals.items()},
            deal_rows=deal_rows,
            rows=every,
        )

    def charges_of(self, row: LedgerRow) -> list[LedgerRow]:
        """The rows of a consolidated invoice's charges (those that have one), oldest first."""
        found = [self.rows.get((row.portal_id, key)) for key, _ in row.charges]
        return [r for r in found if r is not None and billed_inside(r) == row.deal_id]


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


def company_rollups(
    rows: Iterable[LedgerRow],
    settings: Settings,
    today: date,
    fresh: Mapping[tuple[int, str], PaymentStanding] | None = None,
) -> dict[tuple[int, str], CompanyRollup]:
    """Each company's rollup, by (portal, company id), over its invoices, each freee invoice once (a consolidated
    invoice once, never again through its charges: :func:`counts_once`): a row's standing is the one read from
    freee just now (``fresh``, by portal and key), else the one it was last written with (:func:`standing_as_of`).
    The payment sync writes these to the companies; the balance card shows them."""
    by_company: dict[tuple[int, str], list[PaymentStanding]] = {}
    for row in rows:
        if row.company_id is None or not counts_once(row):
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
