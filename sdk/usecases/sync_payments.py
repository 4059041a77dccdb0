"""freee payments → HubSpot: each invoiced deal's payment state, and each company's rollup (issue 6).

``sync_payments`` reads as the process: take the sync lease, pick the open invoices from the ledger, list their
invoices from freee by billing-date windows, list the accounting deals (with payments) of those registered,
work out what each deal should show, write only what changed, roll the ledger up per company, write only what
changed, remember what was written. freee is read with list calls only; HubSpot is written in batches of 100.

The payment rules (invoice + accounting deal + today → what the deal shows, and the company rollup) are
:mod:`sdk.payments`, pure and tested on their own. Days overdue move with the calendar: the same sync run the next
day updates them even when freee did not change. A sync that stops half way is resumed by the next one, which
writes only what is still different (what was written is remembered per deal and per company).

``freee_synced_at`` is written with the other payment values when they change (a sync that finds nothing new
writes nothing, so the property says when the payment values last changed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sdk.errors import HubSpotFreeeError
from sdk.freee.errors import FreeeAuthError, FreeeDisconnected, FreeeError
from sdk.log import get_logger
from sdk.models.freee import AccountingDeal, Invoice
from sdk.payments import (
    CompanyRollup,
    PaymentStanding,
    PaymentStatus,
    company_rollups,
    payment_standing,
)
from sdk.store import InvoiceRecord, LedgerRow, LedgerState
from sdk.terms import tokyo_today
from sdk.usecases.context import Context

if TYPE_CHECKING:
    pass

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


def _sync(
    ctx: Context, summary: SyncSummary, *, since: date | None, dry_run: bool, progress: Progress
) -> None:
    today = tokyo_today(ctx.now())
    own = ctx.settings.hubspot_portal_id
    rows = [  # the tenant boundary: rows under another portal id (none are made now) are never synced
        r
        for r in ctx.store.ledger(states=frozenset({LedgerState.CREATED, LedgerState.CANCELLED}))
        if own is None or r.portal_id == own
    ]
    open_rows = [r for r in rows if _is_open(ctx, r, since)]
    summary.checked = len(open_rows)
    seen = _read_freee(ctx, [_record(r) for r in open_rows], progress)

    standings: dict[tuple[int, str], PaymentStanding] = {}
    updates: list[_DealUpdate] = []
    for row in open_rows:
        record = _record(row)
        invoice = seen.cancelled.get(record.invoice_id) or seen.invoices.get(record.invoice_id)
        deal_id = (
            invoice.deal_id if invoice is not None and _registered(invoice) else record.accounting_deal_id
        )
        found = seen.accounting.get(deal_id) if deal_id is not None else None
        if invoice is None and found is None:
            summary.errors.append(
                f"deal {row.deal_id}: freee invoice {record.invoice_number} ({record.invoice_id}) was not found"
                f" / freeeに請求書が見つかりません"
            )
            continue
        standing = payment_standing(record, invoice, found, today)
        standings[(row.portal_id, row.deal_id)] = standing
        changes = _changed(_deal_values(ctx, standing), row.written)
        if changes:
            changes[ctx.settings.properties.deal_synced_at] = _instant(ctx.now())
        learned = replace(
            record,
            accounting_deal_id=found.id if found else deal_id,
            due_date=standing.due_date,
            last_payment_date=standing.last_payment_date,
        )
        if changes or learned != record:
            updates.append(_DealUpdate(row, changes, standing.cancelled, learned))

    changed = [u for u in updates if u.changes]
    summary.changed_deals = len(changed)
    summary.cancelled = sum(1 for u in changed if u.cancelled)
    summary.deal_changes = {u.row.deal_id: u.changes for u in changed}
    if not dry_run:
        _write_deals(ctx, summary, changed, progress)
        for update in updates:
            if not update.changes:  # freee told us something to remember, and HubSpot needs nothing
                ctx.store.record_written(
                    update.row.portal_id, update.row.deal_id, {}, ctx.now(), invoice=update.invoice
                )

    _roll_up_companies(ctx, summary, rows, standings, today, dry_run=dry_run, progress=progress)


@dataclass(frozen=True, slots=True)
class _DealUpdate:
    row: LedgerRow
    changes: dict[str, str]
    cancelled: bool
    invoice: InvoiceRecord


def record_cancelled(
    ctx: Context, cancelled: Sequence[tuple[LedgerRow, Invoice]], summary: SyncSummary
) -> None:
    """Show invoices cancelled in freee on their deals and move their rows to cancelled, as the sync does for the
    open ones (the reconciliation sweep also finds paid ones, which the sync no longer reads)."""
    today = tokyo_today(ctx.now())
    updates = []
    for row, invoice in cancelled:
        record = _record(row)
        changes = _changed(_deal_values(ctx, payment_standing(record, invoice, None, today)), row.written)
        if changes:
            changes[ctx.settings.properties.deal_synced_at] = _instant(ctx.now())
        updates.append(_DealUpdate(row, changes, True, record))
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


def _deal_values(ctx: Context, s: PaymentStanding) -> dict[str, str]:
    names = ctx.settings.properties
    values = {
        names.deal_payment_status: s.status.value if s.status is not None else "",
        names.deal_amount_paid: str(s.amount_paid),
        names.deal_amount_outstanding: str(s.amount_outstanding),
        names.deal_paid_date: s.paid_date.isoformat() if s.paid_date else "",
        names.deal_days_overdue: str(s.days_overdue),
    }
    if s.cancelled:
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
) -> None:
    """One HubSpot batch per 100 changed deals; after each, remember what was written and what freee said (so a
    sync that stops here resumes with the rest), and move cancelled invoices' rows to cancelled."""
    done = 0
    for chunk in _chunks(updates):
        try:
            result = ctx.hubspot.update_deals({u.row.deal_id: u.changes for u in chunk})
        except Exception as error:
            summary.errors.append(f"writing {len(chunk)} deals failed: {error.__class__.__name__}: {error}")
            continue
        finally:
            summary.written_calls += 1
        missing = set(getattr(result, "not_found", ()) or ())
        for u in chunk:
            row = u.row
            if row.deal_id in missing:
                _gone(summary.gone_deals, "deal", row.portal_id, row.deal_id, u.changes)
                continue
            # only what this sync wrote: the row it read may be stale (an error written since stays remembered)
            ctx.store.record_written(row.portal_id, row.deal_id, u.changes, ctx.now(), invoice=u.invoice)
            if u.cancelled:
                ctx.store.mark_cancelled(row.portal_id, row.deal_id, ctx.now())
            ctx.remember(row.portal_id, row.deal_id, "payment_synced", "sync", fields=sorted(u.changes))
        done += len(chunk)
        progress("deals", done, len(updates))


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
