"""The reconciliation sweep (issue 16): nothing won is missed, nothing invoiced disagrees unseen.

A deal created directly in a won stage (an import, an API write, a webhook lost in an outage longer than HubSpot's
redelivery window) never sends the stage-change webhook, so nothing else would invoice it. ``sweep`` reads as the
process:

1. search HubSpot for every deal now in a won stage and closed within the look-back (or with no close date),
   page by page within the search limits (:meth:`sdk.hubspot.client.HubSpotClient.search_deals_in_stages`);
2. read those deals' ledger rows by key, a page at a time (:meth:`sdk.store.LedgerReads.get_ledgers`);
3. a deal with no row, a row whose attempt died (``creating`` with its lease run out) or that failed or was
   invalid is queued as the webhook would queue it (an :class:`~sdk.queue.InvoiceJob`, trigger ``sweep``): the
   worker's claim makes exactly one invoice whoever queued the deal and however often. A deal the sweep queued
   is not queued again for ``sweep_requeue_hours`` (remembered in the event log), so hourly sweeps do not pile up
   messages while freee is disconnected or the queue is slow;
4. an invoiced deal whose HubSpot properties differ from what the ledger says was written (missing, edited,
   cleared) gets them written again, in batches of 100: the ledger holds what was last written, so this is safe;
5. the invoiced deals' freee invoices are listed over their billing dates (list calls only, freee allows 30 a
   minute): an invoice cancelled in freee is shown as cancelled on its deal (the payment sync's rule,
   :func:`sdk.usecases.sync_payments.record_cancelled`); an invoice freee no longer has is listed for a person.

The hourly scheduled pass skips step 5 (``check_freee=False``): it makes HubSpot calls only, so it never takes
freee's 30 calls a minute from the worker; the daily pass and the CLI do it.

Budget, for N won deals of which M are invoiced, all billed within one ``sync_gap_days`` stretch: HubSpot
1 (pipelines) + ceil(N/200) searches (paced at ``hubspot_search_per_second``) + ceil(R/100) batch writes for R
repairs; freee ceil(M/100) list pages, plus one short page per stretch of billing dates. The queued deals' own
calls are the worker's, as for a webhook. Rate-limit bound: max(ceil(N/200) / 4 s, ceil(M/100) / 30 min).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, cast

from sdk.freee.errors import FreeeDisconnected, FreeeError
from sdk.hubspot.convert import owned_properties
from sdk.log import get_logger
from sdk.pipelines import is_won_stage
from sdk.queue import InvoiceJob
from sdk.store import LedgerRow, LedgerState
from sdk.terms import tokyo_today
from sdk.usecases.sync_payments import PaymentReader, SyncSummary, list_invoices_of, record_cancelled

if TYPE_CHECKING:
    from sdk.hubspot.client import DealSnapshot
    from sdk.models.freee import Invoice
    from sdk.usecases.accept_webhook import MessageSink
    from sdk.usecases.context import Context

TRIGGER = "sweep"
WRITE_BATCH = 100


class DealSearch(Protocol):
    """The HubSpot search the sweep pages through (:class:`sdk.hubspot.client.HubSpotClient` has it)."""

    def search_deals_in_stages(
        self, stage_ids: Iterable[str], properties: Sequence[str], *, closed_since: date | None = None
    ) -> Iterator[list[DealSnapshot]]: ...


class Finding(StrEnum):
    """What the sweep found wrong with one won deal."""

    NOT_INVOICED = "not_invoiced"  # won, no ledger row: the webhook never came
    STALLED = "stalled"  # an attempt died holding the deal (its lease ran out)
    FAILED = "failed"  # the last attempt failed (freee, HubSpot): tried again
    INVALID = "invalid"  # the deal could not be invoiced as it was: tried again in case it was fixed
    PROPERTIES_DIFFER = "properties_differ"  # invoiced; HubSpot shows other values than were written
    CANCELLED_IN_FREEE = "cancelled_in_freee"  # invoiced; the invoice was cancelled in freee
    MISSING_IN_FREEE = "missing_in_freee"  # invoiced; freee no longer has the invoice


class Action(StrEnum):
    QUEUED = "queued"
    REPAIRED = "repaired"
    LISTED = "listed"  # for a person: nothing safe to do automatically
    RECENTLY_QUEUED = "recently_queued"  # queued by an earlier sweep, not again yet
    WOULD_QUEUE = "would_queue"  # dry run
    WOULD_REPAIR = "would_repair"  # dry run


_MESSAGES: dict[Finding, tuple[str, str]] = {
    Finding.NOT_INVOICED: ("受注済みですが請求書がありません", "won but never invoiced"),
    Finding.STALLED: ("請求書作成が途中で止まっていました", "an invoice attempt stopped half way"),
    Finding.FAILED: ("前回の請求書作成が失敗しました", "the last invoice attempt failed"),
    Finding.INVALID: (
        "取引の内容に問題があり請求できませんでした",
        "the deal could not be invoiced as it was",
    ),
    Finding.PROPERTIES_DIFFER: (
        "HubSpotの値が請求書の記録と違います",
        "HubSpot shows other values than were written",
    ),
    Finding.CANCELLED_IN_FREEE: ("freeeで請求書が取り消されています", "the invoice was cancelled in freee"),
    Finding.MISSING_IN_FREEE: (
        "freeeに請求書が見つかりません。freeeで確認し、必要なら作り直してください",
        "freee no longer has the invoice: check it in freee and create it again if needed",
    ),
}

_REQUEUE = {
    LedgerState.CREATING: Finding.STALLED,
    LedgerState.FAILED: Finding.FAILED,
    LedgerState.INVALID: Finding.INVALID,
}


@dataclass(frozen=True, slots=True)
class SweepItem:
    deal_id: str
    deal_name: str
    finding: Finding
    action: Action
    detail: str = ""
    """The last error (failed, invalid), the properties that differ, or the invoice number."""

    @property
    def message(self) -> str:
        ja, en = _MESSAGES[self.finding]
        return f"{ja} / {en}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"message": self.message}


Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phases ``hubspot`` (deals read), ``freee`` (invoices checked)."""


@dataclass
class SweepReport:
    since: date
    dry_run: bool = False
    won_deals: int = 0
    in_order: int = 0  # invoiced, agreeing with HubSpot and freee
    items: list[SweepItem] = field(default_factory=list)
    hubspot_searches: int = 0
    hubspot_writes: int = 0
    freee_checked: int = 0
    errors: list[str] = field(default_factory=list)

    def of(self, *actions: Action) -> list[SweepItem]:
        return [i for i in self.items if i.action in actions]

    @property
    def queued(self) -> list[str]:
        return [i.deal_id for i in self.of(Action.QUEUED)]

    @property
    def ok(self) -> bool:
        """Nothing left for a person: no error and nothing listed."""
        return not self.errors and not self.of(Action.LISTED)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.action.value] = counts.get(item.action.value, 0) + 1
        return {
            "since": self.since.isoformat(),
            "dry_run": self.dry_run,
            "won_deals": self.won_deals,
            "in_order": self.in_order,
            "counts": counts,
            "items": [i.as_dict() for i in self.items],
            "hubspot_searches": self.hubspot_searches,
            "hubspot_writes": self.hubspot_writes,
            "freee_checked": self.freee_checked,
            "errors": self.errors,
            "ok": self.ok,
        }


def sweep_key(portal_id: int, deal_id: str) -> str:
    """The event-log key under which the sweep remembers that it queued a deal."""
    return f"sweep:{portal_id}:{deal_id}"


def sweep(
    ctx: Context,
    queue: MessageSink,
    *,
    since: date | None = None,
    dry_run: bool = False,
    check_freee: bool = True,
    progress: Progress | None = None,
) -> SweepReport:
    """Find won deals without an invoice and queue them; find invoiced deals that disagree with HubSpot or freee
    and repair what is safe (``dry_run``: only say what would be done). ``check_freee=False`` leaves freee out
    (the hourly pass: HubSpot calls only, so freee's 30 calls a minute stay with the worker; the daily pass and
    the CLI check freee too)."""
    portal_id = ctx.settings.hubspot_portal_id
    today = tokyo_today(ctx.now())
    start = since or today - timedelta(days=ctx.settings.sweep_lookback_days)
    report = SweepReport(since=start, dry_run=dry_run)
    if portal_id is None:
        report.errors.append(
            "HUBSPOT_PORTAL_ID が未設定です。設定してから実行してください / set HUBSPOT_PORTAL_ID first: the sweep "
            "reads and queues only this portal's deals"
        )
        return report
    tell = progress or _silent
    won = ctx.hubspot.won_stages()
    if not won:
        report.errors.append(
            "受注ステージがありません（won_stages の設定を確認） / no won stage: check the won_stages settings"
        )
        return report
    owned = owned_properties(ctx.settings.properties, "deal_")
    search = cast(DealSearch, ctx.hubspot)
    invoiced: list[tuple[LedgerRow, str]] = []
    repairs: dict[str, dict[str, str]] = {}
    for page in search.search_deals_in_stages({s for _, s in won}, owned, closed_since=start):
        report.hubspot_searches += 1
        deals = [d for d in page if is_won_stage(_text(d, "pipeline"), _text(d, "dealstage"), won)]
        rows = ctx.store.get_ledgers(portal_id, (d.id for d in deals))
        report.won_deals += len(deals)
        _queue_missing(ctx, queue, report, portal_id, deals, rows, dry_run=dry_run)
        for deal in deals:
            row = rows.get(deal.id)
            if row is None or row.state is not LedgerState.CREATED or row.invoice is None:
                continue
            differ = _differing(row.written, deal.properties, owned)
            if differ:
                repairs[deal.id] = differ
                report.items.append(
                    SweepItem(
                        deal.id,
                        _text(deal, "dealname") or "",
                        Finding.PROPERTIES_DIFFER,
                        Action.WOULD_REPAIR if dry_run else Action.REPAIRED,
                        ", ".join(sorted(differ)),
                    )
                )
            invoiced.append((row, _text(deal, "dealname") or ""))
        tell("hubspot", report.won_deals, report.won_deals)
    if repairs and not dry_run:
        _repair(ctx, report, repairs)
    if check_freee:
        _check_freee(ctx, report, invoiced, dry_run=dry_run, progress=tell)
    listed_or_repaired = {i.deal_id for i in report.items}
    report.in_order = sum(1 for row, _ in invoiced if row.deal_id not in listed_or_repaired)
    get_logger().info(
        {
            "event": "sweep_done",
            "dry_run": dry_run,
            "since": start.isoformat(),
            "won_deals": report.won_deals,
            "queued": len(report.queued),
            "repaired": len(report.of(Action.REPAIRED)),
            "listed": len(report.of(Action.LISTED)),
            "errors": len(report.errors),
        }
    )
    return report


def _queue_missing(
    ctx: Context,
    queue: MessageSink,
    report: SweepReport,
    portal_id: int,
    deals: Sequence[DealSnapshot],
    rows: Mapping[str, LedgerRow],
    *,
    dry_run: bool,
) -> None:
    """Queue the page's won deals that have no invoice and no attempt under way (one ``send_many``)."""
    now = ctx.now()
    wanted: list[tuple[DealSnapshot, Finding, str]] = []
    for deal in deals:
        row = rows.get(deal.id)
        if row is None:
            wanted.append((deal, Finding.NOT_INVOICED, ""))
        elif row.state in _REQUEUE and not row.claimed(now):
            wanted.append((deal, _REQUEUE[row.state], row.last_error or ""))
    if not wanted:
        return
    recent = set() if dry_run else ctx.store.seen_any((sweep_key(portal_id, d.id) for d, _, _ in wanted), now)
    fresh = [w for w in wanted if sweep_key(portal_id, w[0].id) not in recent]
    if fresh and not dry_run:
        queue.send_many(
            [InvoiceJob(portal_id=portal_id, deal_id=d.id, trigger=TRIGGER).body() for d, _, _ in fresh]
        )
        keep = now + timedelta(hours=ctx.settings.sweep_requeue_hours)
        ctx.store.record_sightings((sweep_key(portal_id, d.id) for d, _, _ in fresh), now, keep)
        for deal, finding, _ in fresh:
            ctx.remember(portal_id, deal.id, "sweep_queued", TRIGGER, finding=finding.value)
    for deal, finding, detail in wanted:
        if dry_run:
            action = Action.WOULD_QUEUE
        else:
            action = Action.RECENTLY_QUEUED if sweep_key(portal_id, deal.id) in recent else Action.QUEUED
        report.items.append(SweepItem(deal.id, _text(deal, "dealname") or "", finding, action, detail))


def _repair(ctx: Context, report: SweepReport, repairs: Mapping[str, Mapping[str, str]]) -> None:
    """Write the ledger's values again where HubSpot differs; a deal HubSpot no longer has is listed."""
    ids = list(repairs)
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = ids[start : start + WRITE_BATCH]
        try:
            result = ctx.hubspot.update_deals({deal_id: repairs[deal_id] for deal_id in chunk})
        except Exception as error:  # one failed batch is reported; the others still go
            report.errors.append(
                f"{len(chunk)}件の取引を書き戻せませんでした / writing {len(chunk)} deals back failed: "
                f"{error.__class__.__name__}"
            )
            get_logger().exception({"event": "sweep_repair_failed", "deals": len(chunk)})
            continue
        finally:
            report.hubspot_writes += 1
        gone = set(getattr(result, "not_found", ()) or ())
        if gone:
            report.errors.append(
                f"HubSpotにない取引があります / deals not in HubSpot any more: {', '.join(sorted(gone))}"
            )


def _check_freee(
    ctx: Context,
    report: SweepReport,
    invoiced: Sequence[tuple[LedgerRow, str]],
    *,
    dry_run: bool,
    progress: Progress,
) -> None:
    """List the invoiced deals' invoices in freee (every state): cancelled ones are shown on their deals, missing
    ones are listed."""
    if not invoiced:
        return
    records = [row.invoice for row, _ in invoiced if row.invoice is not None]
    try:
        found = list_invoices_of(cast(PaymentReader, ctx.freee), records, ctx.settings.sync_gap_days)
    except FreeeDisconnected:
        report.errors.append(
            "freeeに接続されていないため、freee側の確認を省きました。`hubspot-freee setup freee` で再接続してください"
            " / freee is not connected, so the freee check was skipped: run `hubspot-freee setup freee`"
        )
        return
    except FreeeError as error:
        report.errors.append(f"freeeの請求書を読めませんでした / could not list freee invoices: {error}")
        return
    report.freee_checked = len(records)
    progress("freee", len(records), len(records))
    cancelled: list[tuple[LedgerRow, Invoice]] = []
    for row, name in invoiced:
        assert row.invoice is not None  # noqa: S101 - invoiced rows carry their invoice
        invoice = found.get(row.invoice.invoice_id)
        number = row.invoice.invoice_number
        if invoice is None:
            report.items.append(SweepItem(row.deal_id, name, Finding.MISSING_IN_FREEE, Action.LISTED, number))
        elif invoice.is_canceled:
            cancelled.append((row, invoice))
            action = Action.WOULD_REPAIR if dry_run else Action.REPAIRED
            report.items.append(SweepItem(row.deal_id, name, Finding.CANCELLED_IN_FREEE, action, number))
    if cancelled and not dry_run:
        written = SyncSummary()
        record_cancelled(ctx, cancelled, written)
        report.hubspot_writes += written.written_calls
        report.errors += written.errors


def _differing(
    written: Mapping[str, str], shown: Mapping[str, str | None], owned: Iterable[str]
) -> dict[str, str]:
    """The values written to a deal that HubSpot now shows otherwise (missing, edited, cleared), among the
    properties this package owns (a name written under an older setting is not read back, so not compared)."""
    keys = set(owned)
    return {k: v for k, v in written.items() if k in keys and not same_value(v, shown.get(k))}


def same_value(written: str | None, shown: str | None) -> bool:
    """Whether HubSpot shows what was written, as HubSpot normalises values: empty and missing are the same,
    numbers compare as numbers (``165000`` = ``165000.0``), instants as instants (ISO or epoch milliseconds)."""
    a, b = (written or "").strip(), (shown or "").strip()
    if a == b:
        return True
    if not a or not b:
        return False
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        pass
    first, second = _instant(a), _instant(b)
    return first is not None and first == second


def _instant(text: str) -> datetime | None:
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000).astimezone()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


def _text(deal: DealSnapshot, name: str) -> str | None:
    value = deal.properties.get(name)
    return str(value) if value not in (None, "") else None


def _silent(phase: str, done: int, total: int) -> None:
    return None
