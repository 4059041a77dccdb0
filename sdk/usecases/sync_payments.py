"""freee payments → HubSpot: each invoiced deal's payment state, and each company's rollup (issue 6, issue 17).

``sync_payments`` reads as the process: take the sync lease, pick the open invoices from the ledger, list their
invoices from freee by billing-date windows, list the accounting deals (with payments) of those registered,
work out what each invoice and then each deal should show, write only what changed, roll the ledger up per company,
write only what changed, remember what was written. freee is read with list calls only; HubSpot is written in
batches of 100.

Each freee invoice is read once (:class:`~sdk.payments.InvoiceBook`): a deal billed once, each period of a deal
billed per period, and a company's consolidated invoice, whose paid amount is allocated over the charges it bills
oldest first (:func:`~sdk.payments.charge_standings`); a charge's own row is never read from freee. A deal shows
all its invoices at once (:func:`~sdk.payments.deal_standing`): outstanding and paid summed, the status, due date
and days overdue of the oldest unpaid one. A deal billed per period keeps what it shows on its ``scheduled`` row;
its invoice count, invoiced to date and next billing date belong to the billing pass
(:func:`sdk.usecases.billing.schedule_values`), its payment properties to this sync. An invoice row that is not
a deal's own (a period, a charge, a consolidated invoice) keeps in ``written`` what a deal billed by it alone would
show (nothing is sent to HubSpot for it), so the card and later syncs read it without freee.

The payment rules (invoice + accounting deal + today → what the deal shows, and the company rollup) are
:mod:`sdk.payments`, pure and tested on their own. Days overdue move with the calendar: the same sync run the next
day updates them even when freee did not change. A sync that stops half way is resumed by the next one, which
writes only what is still different (what was written is remembered per deal and per company; an invoice's own
values only once its deals were written).

``freee_synced_at`` is written with the other payment values when they change (a sync that finds nothing new
writes nothing, so the property says when the payment values last changed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, cast

from sdk.errors import HubSpotFreeeError
from sdk.freee.errors import FreeeAuthError, FreeeDisconnected, FreeeError
from sdk.log import get_logger
from sdk.models.freee import AccountingDeal, Invoice
from sdk.payments import (
    CompanyRollup,
    InvoiceBook,
    PaymentStanding,
    PaymentStatus,
    charge_standings,
    company_rollups,
    deal_of,
    deal_standing,
    payment_standing,
    standing_as_of,
)
from sdk.store import InvoiceRecord, LedgerRow, LedgerState
from sdk.terms import tokyo_today
from sdk.usecases.context import Context

LEASE_NAME = "payment-sync"
BATCH = 100
CANCELLED_MESSAGE = "freeeで請求書が取り消されました / The invoice was cancelled in freee"


# ------------------------------------------------------------------------------------------------- the sync


class PaymentReader(Protocol):
    """The freee list calls the sync uses (:class:`sdk.freee.client.FreeeClient` has them)."""

    def iter_invoices(
        self, *, start: date, end: date, page_size: int = 100, **filters: Any
    ) -> Iterator[Invoice]: ...

    def iter_deals(self, *, page_size: int = 100, **filters: Any) -> Iterator[AccountingDeal]: ...

    def keep_connected(self) -> bool: ...


Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phases ``freee``, ``deals``, ``companies``."""


@dataclass
class SyncSummary:
    checked: int = 0
    changed_deals: int = 0
    changed_companies: int = 0
    written_calls: int = 0
    cancelled: int = 0
    #: deals and companies HubSpot no longer has (deleted or merged): skipped, the rest written without them
    gone_deals: list[str] = field(default_factory=list)
    gone_companies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    already_running: bool = False
    dry_run: bool = False
    deal_changes: dict[str, dict[str, str]] = field(default_factory=dict)
    company_changes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.already_running

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def sync_payments(
    ctx: Context, *, since: date | None = None, dry_run: bool = False, progress: Progress | None = None
) -> SyncSummary:
    """Bring every open invoice's payment state from freee onto its deal and company in HubSpot.

    ``since``: only invoices billed on or after that date are read from freee (the others keep what was last
    written, and still count in their company's rollup). ``dry_run``: read freee, write nothing anywhere.
    """
    summary = SyncSummary(dry_run=dry_run)
    lease = _Lease(ctx, timedelta(seconds=ctx.settings.sync_lease_seconds))
    if not lease.take():
        summary.already_running = True
        summary.errors.append("another payment sync is running / 入金同期は実行中です")
        return summary
    report = progress or _silent

    def progress_and_keep_lease(phase: str, done: int, total: int) -> None:
        lease.keep()
        report(phase, done, total)

    try:
        if dry_run or _keep_freee_connected(ctx, summary):
            _sync(ctx, summary, since=since, dry_run=dry_run, progress=progress_and_keep_lease)
    except SyncLeaseLost as lost:
        summary.errors.append(str(lost))
    except FreeeDisconnected as disconnected:  # nothing can be read until `setup freee`; no traceback
        summary.errors.append(f"the payment sync stopped / 入金同期を中止しました: {disconnected}")
    finally:
        lease.release()
    return summary


class SyncLeaseLost(HubSpotFreeeError):
    """The sync held its lease past its end and another sync took it: this one stops where it is."""


class _Lease:
    """The payment-sync lease in the store: taken at the start, renewed as the sync goes (whenever a third of
    it has passed), given back at the end. A sync that crashed simply lets it run out."""

    def __init__(self, ctx: Context, length: timedelta) -> None:
        self.ctx, self.length, self.holder = ctx, length, uuid.uuid4().hex
        self.taken: datetime | None = None

    def take(self) -> bool:
        now = self.ctx.now()
        if not self.ctx.store.acquire_lease(LEASE_NAME, self.holder, now, now + self.length):
            return False
        self.taken = now
        return True

    def keep(self) -> None:
        now = self.ctx.now()
        if self.taken is not None and now - self.taken < self.length / 3:
            return
        if not self.take():
            raise SyncLeaseLost(
                "the payment sync ran past its lease and another sync took over; this one stopped "
                "/ 入金同期のリース期限が切れ、別の同期が引き継いだため中断しました (SYNC_LEASE_SECONDS)"
            )

    def release(self) -> None:
        self.ctx.store.release_lease(LEASE_NAME, self.holder)


def _keep_freee_connected(ctx: Context, summary: SyncSummary) -> bool:
    """freee's refresh token dies 90 days after it was issued unless it is used; an installation with no won
    deal and no open invoice makes no freee call at all, so the scheduled sync renews an old one
    (:data:`sdk.freee.tokens.RENEW_REFRESH_TOKEN_AFTER`). A refused renewal is this run's error (nothing else
    would say so until the next won deal fails); freee unreachable or busy waits for the next run. False when freee
    is disconnected (:class:`~sdk.freee.errors.FreeeDisconnected`): nothing can be read until ``setup freee``."""
    try:
        cast(PaymentReader, ctx.freee).keep_connected()
    except FreeeAuthError as error:
        summary.errors.append(
            f"the freee connection could not be renewed / freee連携を更新できませんでした: {error}"
        )
        return not isinstance(error, FreeeDisconnected)
    except FreeeError as error:
        get_logger().warning({"event": "freee_token_renewal_deferred", "error": str(error)})
    return True


def _silent(phase: str, done: int, total: int) -> None:
    return None


#: the rows the sync reads: invoices (created, and cancelled ones, which a company's rollup still sees), and the
#: ``scheduled`` rows of deals billed per period, which keep what those deals show
SYNCED = frozenset({LedgerState.CREATED, LedgerState.CANCELLED, LedgerState.SCHEDULED})


def _sync(
    ctx: Context, summary: SyncSummary, *, since: date | None, dry_run: bool, progress: Progress
) -> None:
    today = tokyo_today(ctx.now())
    own = ctx.settings.hubspot_portal_id
    rows = [  # the tenant boundary: rows under another portal id (none are made now) are never synced
        r for r in ctx.store.ledger(states=SYNCED) if own is None or r.portal_id == own
    ]
    book = InvoiceBook.of(rows)
    open_rows = [r for r in book.invoices if _is_open(ctx, r, since)]
    summary.checked = len(open_rows)
    seen = _read_freee(ctx, [_record(r) for r in open_rows], progress)

    fresh: dict[tuple[int, str], _Fresh] = {}
    for row in open_rows:
        read = _read_one(row, seen, today)
        if read is None:
            record = _record(row)
            summary.errors.append(
                f"{_what(row)}: freee invoice {record.invoice_number} ({record.invoice_id}) was not found"
                f" / freeeに請求書が見つかりません"
            )
            continue
        fresh[(row.portal_id, row.deal_id)] = read
        for charge in _charges(book, read, today):
            fresh[(charge.row.portal_id, charge.row.deal_id)] = charge

    updates = [_deal_update(ctx, book, fresh, deal, today) for deal in _deals_of(fresh)]
    changed = [u for u in updates if u.changes]
    summary.changed_deals = len(changed)
    summary.cancelled = sum(1 for u in changed if u.cancelled)
    summary.deal_changes = {u.deal_id: u.changes for u in changed}
    if not dry_run:
        not_written = _write_deals(ctx, summary, changed, progress)
        for update in updates:
            if not update.changes:  # freee told us something to remember, and HubSpot needs nothing
                _remember(ctx, update)
        for part in fresh.values():
            if (
                deal_of(part.row.deal_id) is None
            ):  # a consolidated invoice: once every deal it bills was written
                deals = {(c.portal_id, deal_of(c.deal_id)) for c in book.charges_of(part.row)}
                if not deals & not_written:
                    _remember_unit(ctx, part)

    standings = {key: part.standing for key, part in fresh.items()}
    _roll_up_companies(ctx, summary, rows, standings, today, dry_run=dry_run, progress=progress)


@dataclass(frozen=True, slots=True)
class _Fresh:
    """One invoice (or one charge of a consolidated invoice) as this sync worked it out: its row, its standing,
    and what the ledger should now know of it (``invoice``: the accounting deal, due date, last payment)."""

    row: LedgerRow
    standing: PaymentStanding
    invoice: InvoiceRecord


@dataclass(frozen=True, slots=True)
class _DealUpdate:
    """What one deal shows now: ``row`` is its own row (None when it has none to remember on), ``changes`` what
    HubSpot gets, ``parts`` its invoices (and charges) worked out by this sync, remembered once it is written."""

    portal_id: int
    deal_id: str
    row: LedgerRow | None
    changes: dict[str, str]
    cancelled: bool
    parts: tuple[_Fresh, ...]


def _read_one(row: LedgerRow, seen: FreeeView, today: date) -> _Fresh | None:
    """One freee invoice's standing from what was read (None when freee has it nowhere)."""
    record = _record(row)
    invoice = seen.cancelled.get(record.invoice_id) or seen.invoices.get(record.invoice_id)
    deal_id = invoice.deal_id if invoice is not None and _registered(invoice) else record.accounting_deal_id
    found = seen.accounting.get(deal_id) if deal_id is not None else None
    if invoice is None and found is None:
        return None
    standing = payment_standing(record, invoice, found, today)
    learned = replace(
        record,
        accounting_deal_id=found.id if found else deal_id,
        due_date=standing.due_date,
        last_payment_date=standing.last_payment_date,
    )
    return _Fresh(row, standing, learned)


def _charges(book: InvoiceBook, consolidated: _Fresh, today: date) -> list[_Fresh]:
    """A consolidated invoice's charges (those with their rows), its payment allocated over them oldest first
    (:func:`~sdk.payments.charge_standings`); nothing for an invoice of one deal."""
    row = consolidated.row
    if not row.charges:
        return []
    shares = charge_standings(consolidated.standing, row.charges, today)
    out = []
    for charge in book.charges_of(row):
        standing = shares[charge.deal_id]
        learned = replace(
            _record(charge),
            accounting_deal_id=consolidated.invoice.accounting_deal_id,
            due_date=standing.due_date,
            last_payment_date=standing.last_payment_date,
        )
        out.append(_Fresh(charge, standing, learned))
    return out


def _deals_of(fresh: Mapping[tuple[int, str], _Fresh]) -> list[tuple[int, str]]:
    """The deals with an invoice (or a charge) worked out this time, in order."""
    deals = {(portal_id, deal_of(key)) for portal_id, key in fresh}
    return sorted((p, d) for p, d in deals if d is not None)


def _deal_update(
    ctx: Context,
    book: InvoiceBook,
    fresh: Mapping[tuple[int, str], _Fresh],
    deal: tuple[int, str],
    today: date,
) -> _DealUpdate:
    """What the deal shows over every invoice it has (:func:`~sdk.payments.deal_standing`): those worked out now,
    the others as last written. A deal billed per period keeps it on its ``scheduled`` row, whose sync status
    belongs to the billing pass."""
    portal_id, deal_id = deal
    units = book.deals.get(deal, ())
    parts = tuple(fresh[(portal_id, u.deal_id)] for u in units if (portal_id, u.deal_id) in fresh)
    standings = []
    for unit in units:
        part = fresh.get((portal_id, unit.deal_id))
        standings.append(part.standing if part is not None else standing_as_of(unit, ctx.settings, today))
    standing = deal_standing(standings)
    row = book.deal_rows.get(deal)
    if (
        row is None
    ):  # nowhere to remember what the deal shows: its invoices are remembered, the deal not written
        return _DealUpdate(portal_id, deal_id, None, {}, standing.cancelled, parts)
    own_status = row.state is not LedgerState.SCHEDULED
    changes = _changed(_deal_values(ctx, standing, own_status=own_status), row.written)
    if changes:
        changes[ctx.settings.properties.deal_synced_at] = _instant(ctx.now())
    return _DealUpdate(portal_id, deal_id, row, changes, standing.cancelled, parts)


def _remember(ctx: Context, update: _DealUpdate) -> None:
    """After the deal was written (or needed nothing): what it was written, and what this sync learned of each
    of its invoices; an invoice cancelled in freee moves its row to cancelled."""
    row = update.row
    for part in update.parts:
        if row is not None and part.row.deal_id == row.deal_id:  # the deal's own invoice: one write for both
            if update.changes or part.invoice != row.invoice:
                ctx.store.record_written(
                    row.portal_id, row.deal_id, update.changes, ctx.now(), invoice=part.invoice
                )
            _cancel(ctx, part)
        else:
            _remember_unit(ctx, part)
    if row is not None and not any(p.row.deal_id == row.deal_id for p in update.parts) and update.changes:
        # only what this sync wrote: the row it read may be stale (an error written since stays remembered)
        ctx.store.record_written(row.portal_id, row.deal_id, update.changes, ctx.now())


def _remember_unit(ctx: Context, part: _Fresh) -> None:
    """A period's, a charge's or a consolidated invoice's own row: what a deal billed by it alone would show (so a
    later sync or the card reads it without freee: :func:`~sdk.payments.standing_as_of`), and what freee said."""
    row = part.row
    changes = _changed(_deal_values(ctx, part.standing), row.written)
    if changes or part.invoice != row.invoice:
        ctx.store.record_written(row.portal_id, row.deal_id, changes, ctx.now(), invoice=part.invoice)
    _cancel(ctx, part)


def _cancel(ctx: Context, part: _Fresh) -> None:
    if part.standing.cancelled and part.row.state is LedgerState.CREATED:
        ctx.store.mark_cancelled(part.row.portal_id, part.row.deal_id, ctx.now())


def _what(row: LedgerRow) -> str:
    deal = deal_of(row.deal_id)
    return f"deal {row.deal_id}" if deal == row.deal_id else f"invoice {row.deal_id}"


def record_cancelled(
    ctx: Context, cancelled: Sequence[tuple[LedgerRow, Invoice]], summary: SyncSummary
) -> None:
    """Show invoices cancelled in freee on their deals and move their rows to cancelled, as the sync does for the
    open ones (the reconciliation sweep also finds paid ones, which the sync no longer reads). Each row is a deal's
    own invoice (a deal billed once)."""
    today = tokyo_today(ctx.now())
    updates = []
    for row, invoice in cancelled:
        record = _record(row)
        standing = payment_standing(record, invoice, None, today)
        changes = _changed(_deal_values(ctx, standing), row.written)
        if changes:
            changes[ctx.settings.properties.deal_synced_at] = _instant(ctx.now())
        part = _Fresh(row, standing, record)
        updates.append(_DealUpdate(row.portal_id, row.deal_id, row, changes, True, (part,)))
    _write_deals(ctx, summary, updates, _silent)


def _record(row: LedgerRow) -> InvoiceRecord:
    assert row.invoice is not None  # noqa: S101 - open rows carry their invoice
    return row.invoice


def _is_open(ctx: Context, row: LedgerRow, since: date | None) -> bool:
    """Invoiced, not cancelled, not already shown as paid, and (with ``since``) billed since then."""
    if row.state is not LedgerState.CREATED or row.invoice is None:
        return False
    if row.written.get(ctx.settings.properties.deal_payment_status) == PaymentStatus.PAID:
        return False
    return since is None or row.invoice.billing_date >= since


def _registered(invoice: Invoice) -> bool:
    return invoice.deal_status == "registered" and invoice.deal_id is not None and not invoice.is_canceled


@dataclass
class FreeeView:
    """What the sync read from freee: cancelled invoices, listed invoices and accounting deals, each by id."""

    cancelled: dict[int, Invoice] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    accounting: dict[int, AccountingDeal] = field(default_factory=dict)


def _read_freee(ctx: Context, records: Sequence[InvoiceRecord], progress: Progress) -> FreeeView:
    """Every open invoice's state, from list calls only (freee allows 30 requests a minute):

    1. the cancelled ones: one listing filtered to cancelled invoices over the open invoices' billing dates;
    2. the invoices whose accounting deal (取引) is not known yet: listed over their billing dates (an invoice
       is listed once per deal, until the sync has seen its accounting deal);
    3. the accounting deals with their payments: income deals over the billing dates (freee registers an
       invoice's deal on its billing date), paged by freee's total count;
    4. a known accounting deal that is gone (deleted or registered again in freee): its invoice is listed, and
       judged from the invoice alone this time.

    Once every accounting deal is known, syncing N open invoices takes ceil(N/100) deal pages and one listing
    of cancelled invoices per billing-date window.
    """
    view = FreeeView()
    if not records:
        return view
    freee = cast(PaymentReader, ctx.freee)
    gap = ctx.settings.sync_gap_days
    total = len(records)
    view.cancelled = list_invoices_of(freee, records, gap, cancel_status="canceled")
    live = [r for r in records if r.invoice_id not in view.cancelled]
    view.invoices = list_invoices_of(freee, [r for r in live if r.accounting_deal_id is None], gap)
    progress("freee", len(view.cancelled) + len(view.invoices), total)
    wanted = {r.accounting_deal_id for r in live if r.accounting_deal_id is not None}
    wanted |= {i.deal_id for i in view.invoices.values() if _registered(i) and i.deal_id is not None}
    if wanted:
        dated = [r for r in live if r.accounting_deal_id is not None or r.invoice_id in view.invoices]
        deals = freee.iter_deals(
            type="income",
            start_issue_date=min(r.billing_date for r in dated),
            end_issue_date=max(r.billing_date for r in dated),
        )
        for listed, deal in enumerate(deals, start=1):
            if deal.id in wanted:
                view.accounting[deal.id] = deal
            if listed % 100 == 0:  # a page: move the progress bar (and keep the lease)
                progress("freee", min(total, len(view.cancelled) + len(view.accounting)), total)
    gone = [
        r for r in live if r.accounting_deal_id is not None and r.accounting_deal_id not in view.accounting
    ]
    view.invoices |= list_invoices_of(freee, gone, gap)
    progress("freee", total, total)
    return view


def list_invoices_of(
    freee: PaymentReader, records: Sequence[InvoiceRecord], gap: int, **filters: Any
) -> dict[int, Invoice]:
    """The freee invoices of these records (with ``filters``), by id, over as few billing-date ranges as
    cover their billing dates: a new range starts only after ``gap`` days without one of them."""
    wanted = {r.invoice_id for r in records}
    found: dict[int, Invoice] = {}
    for start, end in _ranges((r.billing_date for r in records), gap):
        for invoice in freee.iter_invoices(start=start, end=end, **filters):
            if invoice.id in wanted:
                found[invoice.id] = invoice
    return found


def _ranges(days: Iterable[date], gap: int) -> list[tuple[date, date]]:
    """The days, sorted, joined into ranges; a gap of more than ``gap`` days between two of them splits."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][1]).days <= gap:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _deal_values(ctx: Context, s: PaymentStanding, *, own_status: bool = True) -> dict[str, str]:
    """The payment properties the sync owns on a deal: status, paid, outstanding, paid date, days overdue and the
    due date of the oldest unpaid invoice; ``own_status``: also the sync status of a deal whose invoice was
    cancelled (a deal billed per period: the billing pass owns it, and its other properties)."""
    names = ctx.settings.properties
    values = {
        names.deal_payment_status: s.status.value if s.status is not None else "",
        names.deal_amount_paid: str(s.amount_paid),
        names.deal_amount_outstanding: str(s.amount_outstanding),
        names.deal_paid_date: s.paid_date.isoformat() if s.paid_date else "",
        names.deal_days_overdue: str(s.days_overdue),
    }
    if s.due_date is not None and not s.cancelled:
        values[names.deal_due_date] = s.due_date.isoformat()
    if s.cancelled and own_status:
        values[names.deal_sync_status] = "cancelled"
        values[names.deal_sync_error] = CANCELLED_MESSAGE
    return values


def _changed(wanted: Mapping[str, str], written: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in wanted.items() if written.get(k) != v}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_deals(
    ctx: Context, summary: SyncSummary, updates: Sequence[_DealUpdate], progress: Progress
) -> set[tuple[int, str | None]]:
    """One HubSpot batch per 100 changed deals; after each, remember what was written and what freee said (so a
    sync that stops here resumes with the rest), and move cancelled invoices' rows to cancelled. Returns the deals
    not written (their batch failed, or HubSpot no longer has them): nothing of theirs is remembered."""
    done = 0
    not_written: set[tuple[int, str | None]] = set()
    for chunk in _chunks(updates):
        try:
            result = ctx.hubspot.update_deals({u.deal_id: u.changes for u in chunk})
        except Exception as error:
            summary.errors.append(f"writing {len(chunk)} deals failed: {error.__class__.__name__}: {error}")
            not_written |= {(u.portal_id, u.deal_id) for u in chunk}
            continue
        finally:
            summary.written_calls += 1
        missing = set(getattr(result, "not_found", ()) or ())
        for u in chunk:
            if u.deal_id in missing:
                _gone(summary.gone_deals, "deal", u.portal_id, u.deal_id, u.changes)
                not_written.add((u.portal_id, u.deal_id))
                continue
            _remember(ctx, u)
            ctx.remember(u.portal_id, u.deal_id, "payment_synced", "sync", fields=sorted(u.changes))
        done += len(chunk)
        progress("deals", done, len(updates))
    return not_written


def _gone(
    skipped: list[str], object_type: str, portal_id: int, object_id: str, changes: Mapping[str, str]
) -> None:
    """A record HubSpot no longer has (deleted or merged): skipped, counted in the summary and logged; nothing
    is remembered as written, so a record that comes back (restored) is written by the next sync."""
    skipped.append(object_id)
    get_logger().warning(
        {
            "event": "hubspot_record_gone",
            "object_type": object_type,
            "portal_id": portal_id,
            f"{object_type}_id": object_id,
            "fields": sorted(changes),
            "message": f"{object_type} {object_id} is not in HubSpot any more (deleted or merged): not written / "
            "HubSpotにレコードがありません（削除または統合）",
        }
    )


def _company_values(ctx: Context, rollup: CompanyRollup) -> dict[str, str]:
    names = ctx.settings.properties
    return {
        names.company_outstanding_total: str(rollup.outstanding_total),
        names.company_overdue_total: str(rollup.overdue_total),
        names.company_overdue_invoice_count: str(rollup.overdue_invoice_count),
        names.company_oldest_overdue_days: str(rollup.oldest_overdue_days),
        names.company_last_payment_date: rollup.last_payment_date.isoformat()
        if rollup.last_payment_date
        else "",
        names.company_payment_risk: rollup.risk.value,
    }


def _roll_up_companies(
    ctx: Context,
    summary: SyncSummary,
    rows: Sequence[LedgerRow],
    standings: Mapping[tuple[int, str], PaymentStanding],
    today: date,
    *,
    dry_run: bool,
    progress: Progress,
) -> None:
    """Each company's rollup from its ledger rows (no freee call, :func:`~sdk.payments.company_rollups`), written
    only where it changed."""
    written: dict[int, dict[str, dict[str, str]]] = {}
    updates: list[tuple[int, str, dict[str, str], dict[str, str]]] = []
    for (portal_id, company_id), rollup in company_rollups(rows, ctx.settings, today, standings).items():
        if portal_id not in written:
            written[portal_id] = ctx.store.companies_written(portal_id)
        before = written[portal_id].get(company_id, {})
        wanted = _company_values(ctx, rollup)
        changes = _changed(wanted, before)
        if changes:
            updates.append((portal_id, company_id, changes, {**before, **changes}))
    summary.changed_companies = len(updates)
    summary.company_changes = {company_id: changes for _, company_id, changes, _ in updates}
    if dry_run:
        return
    done = 0
    for chunk in _chunks(updates):
        try:
            result = ctx.hubspot.update_companies(
                {company_id: changes for _, company_id, changes, _ in chunk}
            )
        except Exception as error:
            summary.errors.append(
                f"writing {len(chunk)} companies failed: {error.__class__.__name__}: {error}"
            )
            continue
        finally:
            summary.written_calls += 1
        missing = set(getattr(result, "not_found", ()) or ())
        for portal_id, company_id, changes, after in chunk:
            if company_id in missing:
                _gone(summary.gone_companies, "company", portal_id, company_id, changes)
                continue
            ctx.store.record_company_written(portal_id, company_id, after, ctx.now())
        done += len(chunk)
        progress("companies", done, len(updates))
