"""A won deal with a billing schedule → one freee invoice per period, exactly once each (issue 17).

``bill_schedule`` reads as the process, for a deal the won trigger (or the billing pass) found won and valid with a
:class:`~sdk.billing.schedule.Plan`:

1. the deal's own ledger row becomes ``scheduled`` (claimed like any row, so two triggers agree): from now on its
   invoices are on its periods' rows (``deal:period``) and the deal row keeps what the deal shows;
2. every period billed on or before the day (``on``: today, or the billing pass's date) whose row is not
   ``created`` gets its invoice through the same claim / intent / marker protocol as a deal billed once
   (:func:`sdk.usecases.create_invoice.issue`), the marker naming the period;
3. the schedule row is saved (the plan, the next billing date; a conditional write);
4. the deal is written back once, from every period's row (:func:`schedule_values`): invoiced to date, the invoice
   count, the latest invoice, the next billing date and the schedule's state.

A schedule changed after its start changes only periods not yet invoiced (each period is drawn from the deal as it
is when that period is billed). A deal moved out of won, or left without recurring lines, stops: no more periods,
and the deal says why; nothing already invoiced is touched.

The billing pass (:func:`run_billing`) finds the schedules due by their next billing date (a keyed read) and bills
each deal through the same path, within freee's limits (every freee call waits on the shared rate limiter).
Running it again after a crash bills only what is missing: a period already invoiced costs no freee call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sdk.billing.schedule import Period, Plan, PlanKind, period_draft, period_lines
from sdk.billing.units import Unit
from sdk.errors import DealBusy, Problem, ValidationFailed, lines
from sdk.hubspot.errors import HubSpotNotFound
from sdk.log import get_logger
from sdk.models.hubspot import DealBundle
from sdk.store import InvoiceRecord, LedgerRow, LedgerState, ScheduleRow, ScheduleState
from sdk.terms import tokyo_today
from sdk.usecases.context import Context
from sdk.usecases.create_invoice import (
    SCHEDULED_BILLING,
    InvoiceOutcome,
    Result,
    create_invoice_for_deal,
    issue,
    read_bundle,
    warning_change,
)
from sdk.validation import InvoiceDraft, validate_deal

if TYPE_CHECKING:
    from sdk.usecases.accept_webhook import MessageSink

TRIGGER = SCHEDULED_BILLING
INVOICED = frozenset({LedgerState.CREATED, LedgerState.CANCELLED})


def _stop_note(reason: str) -> tuple[str, str]:
    return _STOPS[reason]


_STOPS = {
    "left_won": (
        "取引が受注から外れたため、以降の定期請求を停止しました（発行済みの請求書はそのままです）。",
        "The deal left its won stage, so its billing schedule stopped; invoices already issued are unchanged.",
    ),
    "cancelled": (
        "取引の請求状況が「停止」に変更されたため、以降の定期請求を停止しました（発行済みの請求書はそのままです）。",
        "The deal's billing status was set to stopped, so its billing schedule stopped; invoices already issued are"
        " unchanged.",
    ),
    "no_schedule": (
        "取引に定期請求の明細（請求頻度）も分割回数もなくなったため、以降の定期請求を停止しました（発行済みの請求書はそのままです）。",
        "The deal no longer has recurring line items or instalments, so its billing schedule stopped; invoices"
        " already issued are unchanged.",
    ),
}


# ------------------------------------------------------------------------------------------- one deal


def halted_schedule(
    ctx: Context, bundle: DealBundle, stored: ScheduleRow | None, trigger: str
) -> InvoiceOutcome | None:
    """The outcome of a schedule that bills no more: stopped already, or cancelled by a rep on the deal now (it
    shows ``freee_billing_status`` ``stopped`` while its schedule is active: this product writes ``stopped`` only
    once a schedule has stopped). ``None``: the schedule (if any) goes on."""
    if stored is None:
        return None
    if stored.state is ScheduleState.STOPPED:
        return stopped_outcome(ctx, stored)
    shown = (bundle.deal.prop(ctx.settings.properties.deal_billing_status) or "").strip()
    if stored.state is ScheduleState.ACTIVE and shown == "stopped":
        return stop_schedule(ctx, stored, "cancelled", trigger)
    return None


def bill_schedule(
    ctx: Context,
    bundle: DealBundle,
    draft: InvoiceDraft,
    plan: Plan | None,
    trigger: str,
    *,
    on: date | None = None,
) -> InvoiceOutcome:
    """Bill every period of the deal's schedule due on or before ``on`` (default: today in Tokyo) and write the
    deal back. ``plan`` ``None`` (the deal lost its recurring lines) stops a stored schedule."""
    portal_id, deal_id = bundle.portal_id, bundle.deal.id
    day = on or tokyo_today(ctx.now())
    stored = ctx.store.get_schedule(portal_id, deal_id)
    halted = halted_schedule(ctx, bundle, stored, trigger)
    if halted is not None:
        return halted
    if plan is None:
        if stored is None:  # a scheduled deal row but no schedule: nothing was ever billed by one
            return InvoiceOutcome(Result.NOT_WON, portal_id, deal_id)
        return stop_schedule(ctx, stored, "no_schedule", trigger)
    mark_scheduled(ctx, portal_id, deal_id, trigger)

    due = [p for p in _periods_through(plan, day) if period_lines(draft, plan, p.number)]
    rows = ctx.store.get_ledgers(portal_id, [Unit.of_period(deal_id, p.number).key for p in due])
    created: list[InvoiceRecord] = []
    adopted = False
    for period in due:
        key = Unit.of_period(deal_id, period.number).key
        if key in rows and rows[key].state in INVOICED:
            continue
        outcome = bill_period(ctx, bundle, period_draft(draft, plan, period.number, ctx.settings), trigger)
        if isinstance(outcome, InvoiceOutcome):  # freee or the partner refused this period: shown on the deal
            return outcome
        rows[key] = outcome[0]
        adopted = adopted or outcome[1]
        if outcome[0].invoice is not None:
            created.append(outcome[0].invoice)

    saved = _save_schedule(ctx, bundle, draft, plan, stored)
    period_rows = schedule_rows(ctx, saved)
    write_schedule_back(ctx, bundle, saved, period_rows, draft.warnings, trigger)
    ctx.remember(
        portal_id,
        deal_id,
        "schedule_billed",
        trigger,
        on=day.isoformat(),
        created=[r.invoice_number for r in created],
        next_due=saved.next_due.isoformat() if saved.next_due else None,
    )
    latest = _latest(period_rows)
    if created:
        return InvoiceOutcome(
            Result.CREATED,
            portal_id,
            deal_id,
            created[-1],
            adopted=adopted,
            warnings=draft.warnings,
            invoices=tuple(created),
        )
    if latest is not None:
        return InvoiceOutcome(Result.ALREADY_INVOICED, portal_id, deal_id, latest, warnings=draft.warnings)
    return InvoiceOutcome(Result.SCHEDULED, portal_id, deal_id, warnings=draft.warnings)


def _periods_through(plan: Plan, day: date) -> list[Period]:
    return [p for p in plan.periods(through=day) if p.billing_date <= day]


def mark_scheduled(ctx: Context, portal_id: int, deal_id: str, trigger: str) -> None:
    """The deal's row ``scheduled`` (once; a row another attempt holds → :class:`DealBusy`, retried)."""
    row = ctx.store.get_ledger(portal_id, deal_id)
    if row is not None and row.state is LedgerState.SCHEDULED:
        return
    token = uuid.uuid4().hex
    claim = ctx.store.claim(
        portal_id, deal_id, token, ctx.now(), ctx.now() + timedelta(seconds=ctx.lease_seconds)
    )
    if not claim.granted:
        if claim.row.state is LedgerState.SCHEDULED:
            return
        raise DealBusy(f"deal {deal_id} is being invoiced by another worker", retry_after=ctx.lease_seconds)
    ctx.store.record_scheduled(portal_id, deal_id, token, ctx.now())
    ctx.remember(portal_id, deal_id, "scheduled", trigger)


def bill_period(
    ctx: Context, bundle: DealBundle, draft: InvoiceDraft, trigger: str
) -> tuple[LedgerRow, bool] | InvoiceOutcome:
    """One period's invoice, exactly once: its row claimed, the invoice issued (or adopted, or found made by
    another attempt), the claim released. A period another attempt holds right now → :class:`DealBusy`."""
    key = draft.unit.key
    token = uuid.uuid4().hex
    now = ctx.now()
    claim = ctx.store.claim(bundle.portal_id, key, token, now, now + timedelta(seconds=ctx.lease_seconds))
    if not claim.granted:
        if claim.row.state in INVOICED:
            return claim.row, False
        raise DealBusy(
            f"deal {bundle.deal.id}: period {draft.period} is being invoiced by another worker",
            retry_after=max(1.0, ((claim.row.claim_until or now) - now).total_seconds()),
        )
    issued = issue(ctx, claim, token, bundle, draft, trigger)
    if isinstance(issued, InvoiceOutcome):
        return issued
    released = ctx.store.record_written(bundle.portal_id, key, {}, ctx.now(), token=token)
    return released, issued.adopted


def _save_schedule(
    ctx: Context, bundle: DealBundle, draft: InvoiceDraft, plan: Plan, stored: ScheduleRow | None
) -> ScheduleRow:
    """The schedule as it now stands (plan, next billing date, state), saved with a conditional write: read again
    and saved again when another writer saved first."""
    from sdk.errors import ScheduleConflict

    for _ in range(5):
        current = stored if stored is not None else None
        rows = _period_rows_for(ctx, bundle.portal_id, bundle.deal.id, plan, draft)
        next_period = _next_period(plan, draft, rows)
        row = ScheduleRow(
            portal_id=bundle.portal_id,
            deal_id=bundle.deal.id,
            state=ScheduleState.ACTIVE if next_period is not None else ScheduleState.ENDED,
            plan=plan.to_plain(),
            next_due=next_period.billing_date if next_period is not None else None,
            company_id=draft.hubspot_company_id,
            version=current.version if current is not None else 0,
        )
        try:
            return ctx.store.save_schedule(row, ctx.now())
        except ScheduleConflict:
            stored = ctx.store.get_schedule(bundle.portal_id, bundle.deal.id)
    raise DealBusy(f"deal {bundle.deal.id}: its schedule keeps changing under this attempt", retry_after=1.0)


def _period_rows_for(
    ctx: Context, portal_id: int, deal_id: str, plan: Plan, draft: InvoiceDraft
) -> dict[int, LedgerRow]:
    """The rows of the periods up to the first one not invoiced, by period number."""
    found: dict[int, LedgerRow] = {}
    start = 1
    while True:
        numbers = list(range(start, start + 100 if plan.count is None else min(start + 100, plan.count + 1)))
        if not numbers:
            return found
        rows = ctx.store.get_ledgers(portal_id, [Unit.of_period(deal_id, n).key for n in numbers])
        for n in numbers:
            row = rows.get(Unit.of_period(deal_id, n).key)
            if row is not None:
                found[n] = row
        if len(rows) < len(numbers):
            return found
        start += 100


def _next_period(plan: Plan, draft: InvoiceDraft, rows: Mapping[int, LedgerRow]) -> Period | None:
    """The first period with something to bill whose row is not invoiced (``None``: a fixed term all billed)."""
    number = 1
    while plan.count is None or number <= plan.count:
        row = rows.get(number)
        if (row is None or row.state not in INVOICED) and period_lines(draft, plan, number):
            return plan.period(number)
        number += 1
    return None


def schedule_rows(ctx: Context, schedule: ScheduleRow) -> list[LedgerRow]:
    """Every period row of the deal that exists, in period order (keyed reads)."""
    plan = Plan.from_plain(schedule.plan)
    last = plan.count
    if last is None:  # open-ended: through the next billing date's period (stopped: today's, on ctx's clock)
        through = schedule.next_due or tokyo_today(ctx.now())
        last = sum(1 for _ in plan.periods(through=through))
    keys = [Unit.of_period(schedule.deal_id, n).key for n in range(1, last + 1)]
    rows = ctx.store.get_ledgers(schedule.portal_id, keys)
    return [rows[key] for key in keys if key in rows]


def _latest(rows: Iterable[LedgerRow]) -> InvoiceRecord | None:
    invoiced = [r.invoice for r in rows if r.state is LedgerState.CREATED and r.invoice is not None]
    return max(invoiced, key=lambda i: (i.billing_date, i.invoice_id), default=None)


# --------------------------------------------------------------------------------------- the deal's view


def schedule_values(
    ctx: Context, schedule: ScheduleRow, rows: Iterable[LedgerRow], shown: Mapping[str, str]
) -> dict[str, str]:
    """What a scheduled deal shows: its latest invoice, invoiced to date (sum over its invoices), the invoice
    count, the next billing date and the schedule's state. The payment status and due date are set only the first
    time (they belong to the payment sync afterwards, which owns paid / outstanding / the oldest unpaid invoice's
    due date over all the deal's invoices)."""
    names = ctx.settings.properties
    rows = list(rows)
    invoices = [r.invoice for r in rows if r.state is LedgerState.CREATED and r.invoice is not None]
    latest = _latest(rows)
    values = {
        names.deal_amount_invoiced: str(sum(i.amount_total for i in invoices)),
        names.deal_invoice_count: str(len(invoices)),
        names.deal_next_billing_date: schedule.next_due.isoformat() if schedule.next_due else "",
        names.deal_billing_status: {
            ScheduleState.ACTIVE: "scheduled",
            ScheduleState.ENDED: "ended",
            ScheduleState.STOPPED: "stopped",
        }[schedule.state],
        names.deal_sync_status: "created" if invoices else "pending",
        names.deal_sync_error: lines(_note_problem(schedule)) if schedule.note else "",
    }
    if latest is not None:
        values |= {
            names.deal_invoice_id: str(latest.invoice_id),
            names.deal_invoice_number: latest.invoice_number,
            names.deal_invoice_url: latest.invoice_url,
        }
        if names.deal_payment_status not in shown:
            values[names.deal_payment_status] = "unpaid"
            values[names.deal_due_date] = latest.due_date.isoformat() if latest.due_date else ""
    return values


def _note_problem(schedule: ScheduleRow) -> tuple[Problem, ...]:
    ja, _, en = schedule.note.partition(" / ")
    return (Problem("schedule.stopped", "dealstage", ja, en or ja),)


def write_schedule_back(
    ctx: Context,
    bundle: DealBundle,
    schedule: ScheduleRow,
    rows: list[LedgerRow],
    warnings: tuple[Problem, ...],
    trigger: str,
    *,
    company_shows: str | None = None,
) -> str | None:
    """One write to the deal (only what differs from what its row says was written), one to the company when it
    does not show its freee partner yet (``company_shows``: what it shows when known better than the deal's read,
    e.g. after another deal of the company wrote it); then remember it on the deal's row. Returns the partner id
    the company now shows."""
    portal_id, deal_id = bundle.portal_id, bundle.deal.id
    deal_row = ctx.store.get_ledger(portal_id, deal_id)
    shown = dict(deal_row.written) if deal_row is not None else {}
    # a scheduled deal's amount is its contract's, not one invoice's: the amount check does not apply to it
    kept = tuple(w for w in warnings if w.code != "deal.amount_mismatch")
    wanted = schedule_values(ctx, schedule, rows, shown) | warning_change(ctx, deal_row, kept)
    changes = {k: v for k, v in wanted.items() if shown.get(k) != v}
    if changes:
        ctx.hubspot.update_deals({deal_id: changes})
        ctx.store.record_written(portal_id, deal_id, changes, ctx.now())
    names = ctx.settings.properties
    company = bundle.company
    partner = next((r.invoice.partner_id for r in rows if r.invoice is not None), None)
    shown_partner = (
        company_shows
        if company_shows is not None
        else (company.prop(names.company_partner_id) if company else None)
    )
    if company is not None and partner is not None and shown_partner != str(partner):
        ctx.hubspot.update_companies({company.id: {names.company_partner_id: str(partner)}})
        shown_partner = str(partner)
    ctx.remember(
        portal_id,
        deal_id,
        "written_back" if changes else "write_back_unchanged",
        trigger,
        fields=sorted(changes),
    )
    return shown_partner


# ------------------------------------------------------------------------------------ stopping, refusing


def stop_schedule(ctx: Context, schedule: ScheduleRow, reason: str, trigger: str) -> InvoiceOutcome:
    """No more periods: the schedule ``stopped`` with why, the deal told; nothing already invoiced is touched."""
    from sdk.errors import ScheduleConflict

    ja, en = _stop_note(reason)
    current = schedule
    for _ in range(5):
        if current.state is ScheduleState.STOPPED:
            break
        try:
            current = ctx.store.save_schedule(
                ScheduleRow(
                    portal_id=current.portal_id,
                    deal_id=current.deal_id,
                    state=ScheduleState.STOPPED,
                    plan=current.plan,
                    next_due=None,
                    company_id=current.company_id,
                    consolidated=current.consolidated,
                    note=f"{ja} / {en}",
                    version=current.version,
                ),
                ctx.now(),
            )
        except ScheduleConflict:
            again = ctx.store.get_schedule(current.portal_id, current.deal_id)
            assert again is not None  # noqa: S101 - schedules are never deleted
            current = again
    rows = schedule_rows(ctx, current)
    deal_row = ctx.store.get_ledger(current.portal_id, current.deal_id)
    shown = dict(deal_row.written) if deal_row is not None else {}
    wanted = schedule_values(ctx, current, rows, shown)
    changes = {k: v for k, v in wanted.items() if shown.get(k) != v}
    if changes:
        ctx.hubspot.update_deals({current.deal_id: changes})
        ctx.store.record_written(current.portal_id, current.deal_id, changes, ctx.now())
    ctx.remember(current.portal_id, current.deal_id, "schedule_stopped", trigger, reason=reason)
    return stopped_outcome(ctx, current)


def stopped_outcome(ctx: Context, schedule: ScheduleRow) -> InvoiceOutcome:
    return InvoiceOutcome(
        Result.STOPPED,
        schedule.portal_id,
        schedule.deal_id,
        _latest(schedule_rows(ctx, schedule)),
        problems=_note_problem(schedule),
    )


def refuse_schedule(
    ctx: Context, bundle: DealBundle, failure: ValidationFailed, trigger: str
) -> InvoiceOutcome:
    """A scheduled deal that cannot be billed as it now is (a line item broken after the start): its reasons on
    the deal (``invalid``), its schedule kept, billed again once the deal is fixed (the next trigger or pass)."""
    names = ctx.settings.properties
    portal_id, deal_id = bundle.portal_id, bundle.deal.id
    deal_row = ctx.store.get_ledger(portal_id, deal_id)
    shown = dict(deal_row.written) if deal_row is not None else {}
    wanted = {names.deal_sync_status: "invalid", names.deal_sync_error: failure.summary()}
    wanted |= warning_change(ctx, deal_row, failure.warnings)
    changes = {k: v for k, v in wanted.items() if shown.get(k) != v}
    if changes:
        ctx.hubspot.update_deals({deal_id: changes})
        ctx.store.record_written(portal_id, deal_id, changes, ctx.now())
    ctx.remember(portal_id, deal_id, "invalid", trigger, codes=[p.code for p in failure.problems])
    return InvoiceOutcome(
        Result.INVALID, portal_id, deal_id, problems=failure.problems, warnings=failure.warnings
    )


# ------------------------------------------------------------------------------------------ the pass


class Billed(StrEnum):
    CREATED = "created"
    NOTHING_NEW = "nothing_new"
    INVALID = "invalid"
    STOPPED = "stopped"
    BUSY = "busy"
    FAILED = "failed"
    MISSING = "missing"


@dataclass
class BillingSummary:
    """What one billing pass did."""

    on: date
    dry_run: bool
    due_deals: int = 0
    invoices_created: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    planned: list[dict[str, object]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.outcomes.get(Billed.FAILED, 0)

    def count(self, what: Billed) -> None:
        self.outcomes[what.value] = self.outcomes.get(what.value, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "on": self.on.isoformat(),
            "dry_run": self.dry_run,
            "due_deals": self.due_deals,
            "invoices_created": self.invoices_created,
            "outcomes": dict(sorted(self.outcomes.items())),
            "planned": self.planned,
            "problems": self.problems,
        }


Progress = Callable[[int, int], None]


def due_deals(ctx: Context, portal_id: int, on: date) -> list[ScheduleRow]:
    """The schedules with a period billed on or before ``on`` not yet invoiced (a keyed read of the store)."""
    return list(ctx.store.due_schedules(portal_id, on))


def run_billing(
    ctx: Context, on: date, *, dry_run: bool = False, progress: Progress | None = None
) -> BillingSummary:
    """Bill every period due on or before ``on``, deal by deal, through the won trigger's own path (so a deal no
    longer won stops, a broken one says why). ``dry_run``: read and plan only, nothing written anywhere."""
    portal_id = _portal(ctx)
    summary = BillingSummary(on, dry_run)
    schedules = due_deals(ctx, portal_id, on)
    summary.due_deals = len(schedules)
    companies: set[str] = set()
    for done, schedule in enumerate(schedules, start=1):
        if dry_run:
            _plan_one(ctx, schedule, on, summary)
        elif schedule.consolidated and schedule.company_id is not None:
            if schedule.company_id not in companies:  # one pass per company bills all its due deals
                companies.add(schedule.company_id)
                _bill_company_one(ctx, portal_id, schedule.company_id, on, summary)
        else:
            _bill_one(ctx, schedule, on, summary)
        if progress is not None:
            progress(done, len(schedules))
    return summary


@dataclass(frozen=True, slots=True)
class Queued:
    """What the scheduled pass put on the queue."""

    on: date
    deals: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"on": self.on.isoformat(), "queued": len(self.deals), "deal_ids": list(self.deals)}


QUEUE_BATCH = 10  # SQS takes ten messages a call


def queue_due(ctx: Context, queue: MessageSink, *, on: date | None = None) -> Queued:
    """Put every deal with a period due on or before ``on`` (default today in Tokyo) on the invoice queue, as the
    won trigger would (trigger ``billing``): the worker bills its due periods. Queuing a deal twice is harmless
    (each period is claimed); a pass that crashes part way is simply run again."""
    from sdk.queue import InvoiceJob

    portal_id = _portal(ctx)
    day = on or tokyo_today(ctx.now())
    deals: list[str] = []
    companies: set[str] = set()
    for schedule in due_deals(ctx, portal_id, day):
        if schedule.consolidated and schedule.company_id is not None:
            if schedule.company_id in companies:  # one job per consolidated company: it bills all its deals
                continue
            companies.add(schedule.company_id)
        deals.append(schedule.deal_id)
    bodies = [InvoiceJob(portal_id=portal_id, deal_id=d, trigger=TRIGGER).body() for d in deals]
    for start in range(0, len(bodies), QUEUE_BATCH):
        queue.send_many(bodies[start : start + QUEUE_BATCH])
    get_logger().info({"event": "billing_queued", "on": day.isoformat(), "deals": len(deals)})
    return Queued(day, tuple(deals))


def _portal(ctx: Context) -> int:
    portal_id = ctx.settings.hubspot_portal_id
    if portal_id is None:
        from sdk.errors import SettingsError

        raise SettingsError(
            "HUBSPOT_PORTAL_ID is not set: the billing pass bills this installation's portal only"
        )
    return portal_id


def _bill_one(ctx: Context, schedule: ScheduleRow, on: date, summary: BillingSummary) -> None:
    try:
        outcome = create_invoice_for_deal(ctx, schedule.portal_id, schedule.deal_id, TRIGGER, on=on)
    except DealBusy:
        summary.count(Billed.BUSY)
        return
    except Exception as error:  # the deal says why (the protocol recorded it); the pass goes on
        from sdk.usecases.reasons import for_the_log

        summary.count(Billed.FAILED)
        summary.problems.append({"deal_id": schedule.deal_id, "error": for_the_log(error)})
        get_logger().warning(
            {"event": "billing_failed", "deal_id": schedule.deal_id, "error": for_the_log(error)}
        )
        return
    if outcome.result is Result.CREATED:
        summary.count(Billed.CREATED)
        summary.invoices_created += len(outcome.invoices)
    elif outcome.result in (Result.STOPPED, Result.NOT_WON):
        summary.count(Billed.STOPPED)
    elif outcome.result is Result.INVALID:
        summary.count(Billed.INVALID)
        summary.problems.append({"deal_id": schedule.deal_id, "error": outcome.error_message})
    elif outcome.result is Result.DEAL_MISSING:
        summary.count(Billed.MISSING)
    else:
        summary.count(Billed.NOTHING_NEW)


def _bill_company_one(
    ctx: Context, portal_id: int, company_id: str, on: date, summary: BillingSummary
) -> None:
    from sdk.usecases.consolidate import bill_company  # consolidation builds on this module
    from sdk.usecases.reasons import for_the_log

    try:
        billed = bill_company(ctx, portal_id, company_id, on, TRIGGER)
    except DealBusy:
        summary.count(Billed.BUSY)
        return
    except Exception as error:  # the deals say why (the protocol recorded it); the pass goes on
        summary.count(Billed.FAILED)
        summary.problems.append({"company_id": company_id, "error": for_the_log(error)})
        get_logger().warning(
            {"event": "billing_failed", "company_id": company_id, "error": for_the_log(error)}
        )
        return
    summary.invoices_created += len(billed.invoices)
    summary.count(Billed.CREATED if billed.invoices else Billed.NOTHING_NEW)
    for deal_id, outcome in sorted(billed.outcomes.items()):
        if outcome.result is Result.INVALID:
            summary.count(Billed.INVALID)
            summary.problems.append({"deal_id": deal_id, "error": outcome.error_message})
        elif outcome.result in (Result.STOPPED, Result.NOT_WON):
            summary.count(Billed.STOPPED)


def _plan_one(ctx: Context, schedule: ScheduleRow, on: date, summary: BillingSummary) -> None:
    try:
        bundle = read_bundle(ctx, schedule.portal_id, schedule.deal_id)
    except HubSpotNotFound:
        summary.count(Billed.MISSING)
        return
    try:
        draft = validate_deal(bundle, ctx.settings, today=tokyo_today(ctx.now()))
        from sdk.billing.schedule import plan_for_deal

        plan = plan_for_deal(bundle, draft, ctx.settings)
    except ValidationFailed as failure:
        summary.count(Billed.INVALID)
        summary.problems.append({"deal_id": schedule.deal_id, "error": failure.summary()})
        return
    kept = Plan.from_plain(schedule.plan)
    if kept.kind is PlanKind.ONCE:  # a deal billed once on its company's consolidated invoice
        plan = kept
    if plan is None:
        summary.count(Billed.STOPPED)
        return
    rows = ctx.store.get_ledgers(
        schedule.portal_id,
        [Unit.of_period(schedule.deal_id, p.number).key for p in _periods_through(plan, on)],
    )
    for period in _periods_through(plan, on):
        key = Unit.of_period(schedule.deal_id, period.number).key
        if (key in rows and rows[key].state in INVOICED) or not period_lines(draft, plan, period.number):
            continue
        period_invoice = period_draft(draft, plan, period.number, ctx.settings)
        summary.planned.append(
            {
                "deal_id": schedule.deal_id,
                "consolidated_on": schedule.next_due.isoformat()
                if schedule.consolidated and schedule.next_due
                else None,
                "period": period.number,
                "label": period.label_ja,
                "billing_date": period.billing_date.isoformat(),
                "due_date": period.due_date.isoformat(),
                "subject": period_invoice.subject,
                "total": period_invoice.tax.gross,
            }
        )
    summary.count(Billed.CREATED if summary.planned else Billed.NOTHING_NEW)


# ------------------------------------------------------------------------------------------ the view


class PeriodState(StrEnum):
    INVOICED = "invoiced"
    CANCELLED = "cancelled"
    CREATING = "creating"
    FAILED = "failed"
    INVALID = "invalid"
    DUE = "due"  # billed on or before today, not invoiced yet (the next pass bills it)
    UPCOMING = "upcoming"
    NOTHING_TO_BILL = "nothing_to_bill"  # no line is charged in this period (a longer cycle's gap)
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PeriodView:
    number: int
    label: str
    start: date
    end: date
    billing_date: date
    due_date: date
    state: PeriodState
    amount: int | None = None
    """The invoice's total (invoiced), or what the deal as it now is would bill (``None``: unknown)."""
    invoice_number: str = ""
    invoice_url: str = ""
    error: str = ""
    consolidated_on: date | None = None
    """A consolidated company's deal, a period not invoiced yet: the closing date of the window it goes out on (its
    company's month-end invoice; never before the schedule's next billing date)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.number,
            "consolidated_on": self.consolidated_on.isoformat() if self.consolidated_on else None,
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "billing_date": self.billing_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "state": self.state.value,
            "amount": self.amount,
            "invoice_number": self.invoice_number,
            "invoice_url": self.invoice_url,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """A deal's schedule as ``billing show`` prints it: stored (``schedule``) or, before the deal was billed, as
    HubSpot's line items would make it; each period with its state and invoice."""

    portal_id: int
    deal_id: str
    deal_name: str
    plan: Plan | None
    schedule: ScheduleRow | None
    periods: tuple[PeriodView, ...] = ()
    problems: tuple[Problem, ...] = ()
    more: bool = False
    """An open-ended schedule continues past the periods listed."""

    def as_dict(self) -> dict[str, object]:
        plan = self.plan
        return {
            "portal_id": self.portal_id,
            "deal_id": self.deal_id,
            "deal_name": self.deal_name,
            "state": self.schedule.state.value if self.schedule is not None else None,
            "stored": self.schedule is not None,
            "next_billing_date": (
                self.schedule.next_due.isoformat() if self.schedule and self.schedule.next_due else None
            ),
            "note": self.schedule.note if self.schedule is not None else "",
            "plan": plan.to_plain() if plan is not None else None,
            "periods": [p.as_dict() for p in self.periods],
            "open_ended_more": self.more,
            "problems": [p.as_dict() for p in self.problems],
        }


UPCOMING_SHOWN = 3  # periods of an open-ended schedule listed after today's


def schedule_view(ctx: Context, portal_id: int, deal_id: str) -> ScheduleView:
    """The deal's schedule with every period's state: the store's rows for what was billed, the deal as HubSpot
    now has it for what was not (amounts, or the problems that stop it). Reads only."""
    from sdk.billing.schedule import plan_for_deal
    from sdk.tenant import check_portal

    check_portal(ctx.settings, portal_id)
    today = tokyo_today(ctx.now())
    stored = ctx.store.get_schedule(portal_id, deal_id)
    bundle = read_bundle(ctx, portal_id, deal_id)
    name = bundle.deal.name or ""
    draft: InvoiceDraft | None = None
    live: Plan | None = None
    problems: tuple[Problem, ...] = ()
    try:
        draft = validate_deal(bundle, ctx.settings, today=today)
        live = plan_for_deal(bundle, draft, ctx.settings)
    except ValidationFailed as failure:
        problems = failure.problems
    plan = live if live is not None else (Plan.from_plain(stored.plan) if stored is not None else None)
    if plan is None:
        return ScheduleView(portal_id, deal_id, name, None, stored, problems=problems)
    through = max(today, stored.next_due if stored and stored.next_due else today)
    listed = list(plan.periods(through=through)) if plan.count is None else list(plan.periods())
    more = plan.count is None
    if more:
        last = listed[-1].number if listed else 0
        listed += [plan.period(n) for n in range(last + 1, last + 1 + UPCOMING_SHOWN)]
    rows = ctx.store.get_ledgers(portal_id, [Unit.of_period(deal_id, p.number).key for p in listed])
    stopped = stored is not None and stored.state is ScheduleState.STOPPED
    closing = _closing_day_of(ctx, bundle)
    views = tuple(
        _consolidated(
            _period_view(
                ctx, p, rows.get(Unit.of_period(deal_id, p.number).key), draft, plan, today, stopped
            ),
            closing,
            stored.next_due if stored is not None else None,
        )
        for p in listed
    )
    return ScheduleView(portal_id, deal_id, name, plan, stored, views, problems, more)


def _closing_day_of(ctx: Context, bundle: DealBundle) -> int | None:
    """The closing day of the deal's company when it is billed by consolidated invoice, else ``None``."""
    from sdk.billing.consolidation import company_billing

    if bundle.company is None:
        return None
    billing, _ = company_billing(bundle.company, ctx.settings)
    return billing.closing_day if billing.consolidated else None


def _consolidated(view: PeriodView, closing_day: int | None, next_due: date | None) -> PeriodView:
    from dataclasses import replace

    from sdk.billing.consolidation import window_of

    if closing_day is None or view.state in (
        PeriodState.NOTHING_TO_BILL,
        PeriodState.INVOICED,
        PeriodState.CANCELLED,
    ):
        return view
    closing = window_of(view.billing_date, closing_day).end
    return replace(view, consolidated_on=max(closing, next_due) if next_due is not None else closing)


def _period_view(
    ctx: Context,
    period: Period,
    row: LedgerRow | None,
    draft: InvoiceDraft | None,
    plan: Plan,
    today: date,
    stopped: bool,
) -> PeriodView:
    base = (period.number, period.label_ja, period.start, period.end, period.billing_date, period.due_date)
    if row is not None and row.invoice is not None and row.state in INVOICED:
        state = PeriodState.INVOICED if row.state is LedgerState.CREATED else PeriodState.CANCELLED
        invoice = row.invoice
        return PeriodView(*base, state, invoice.amount_total, invoice.invoice_number, invoice.invoice_url)
    amount = None
    if draft is not None:
        if not period_lines(draft, plan, period.number):
            return PeriodView(*base, PeriodState.NOTHING_TO_BILL, 0)
        amount = period_draft(draft, plan, period.number, ctx.settings).tax.gross
    if row is not None and row.state in (LedgerState.FAILED, LedgerState.INVALID, LedgerState.CREATING):
        state = {
            LedgerState.FAILED: PeriodState.FAILED,
            LedgerState.INVALID: PeriodState.INVALID,
            LedgerState.CREATING: PeriodState.CREATING,
        }[row.state]
        return PeriodView(*base, state, amount, error=lines(row.reasons) or (row.last_error or ""))
    if stopped:
        return PeriodView(*base, PeriodState.STOPPED, amount)
    state = PeriodState.DUE if period.billing_date <= today else PeriodState.UPCOMING
    return PeriodView(*base, state, amount)
