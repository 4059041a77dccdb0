"""Month-end consolidated invoices (月締め合算請求), issued: one freee invoice per company and closing window, exactly
once (issue 17).

A won deal of a company billed ``consolidated`` is enrolled (:func:`enrol`): its row ``scheduled``, its schedule
saved with ``consolidated`` set (a deal billed once has a one-period plan, :meth:`Plan.once`) and its next billing
date the closing date of the window its next charge falls in. Nothing is invoiced for it alone.

:func:`bill_company` reads as the process, for a company on a day ``on``:

1. its consolidated schedules, each deal read from HubSpot (a deal no longer won stops, a broken one is refused
   with its reasons on the deal and left out, a company problem refuses them all);
2. its charges: every period billed on or before the last closing date not yet invoiced (a period row a per-deal
   attempt already started is finished per deal: its invoice may exist in freee);
3. the windows from the oldest charge's to the last closed one, read from the ledger (``c{company}:{closing}``):
   an issued window completes the marking of the charges it lists (a crash between the invoice and the marks),
   every other charge goes to the first window not issued on or after its own (so a deal won after its window's
   invoice went out is billed in the next window);
4. each due window through the same claim / intent / marker protocol as a deal
   (:func:`sdk.usecases.create_invoice.issue`), the intent naming its charges and their shares; a resumed window
   keeps the charges its earlier attempt noted;
5. each charge's own row marked ``created`` with its share of the invoice (and the window it is on), so the
   periods are never billed twice, and the payment sync allocates payments oldest first;
6. each deal's schedule saved (next billing date) and the deal written back once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sdk.billing.consolidation import (
    Charge,
    CompanyBilling,
    Window,
    charge_amounts,
    company_billing,
    consolidated_draft,
    window_of,
)
from sdk.billing.schedule import Plan, PlanKind, period_draft, period_lines
from sdk.billing.units import Unit
from sdk.errors import DealBusy, ScheduleConflict, ValidationFailed
from sdk.hubspot.errors import HubSpotNotFound
from sdk.log import get_logger
from sdk.models.hubspot import DealBundle
from sdk.store import Intent, InvoiceRecord, LedgerRow, LedgerState, ScheduleRow, ScheduleState
from sdk.terms import tokyo_today
from sdk.usecases.billing import (
    INVOICED,
    bill_period,
    halted_schedule,
    mark_scheduled,
    refuse_schedule,
    schedule_rows,
    stop_schedule,
    write_schedule_back,
)
from sdk.usecases.context import Context
from sdk.usecases.create_invoice import InvoiceOutcome, Result, is_won, issue, read_bundle
from sdk.validation import InvoiceDraft, validate_deal


@dataclass(frozen=True, slots=True)
class Member:
    """A deal on its company's consolidated invoices, as it now is: read, valid, with its plan and schedule."""

    bundle: DealBundle
    draft: InvoiceDraft
    plan: Plan
    schedule: ScheduleRow

    @property
    def deal_id(self) -> str:
        return self.bundle.deal.id


@dataclass
class CompanyBilled:
    """What one pass over a company did: the consolidated invoices it created (or adopted), and how each deal
    ended (``outcomes``: by deal id)."""

    company_id: str
    invoices: list[InvoiceRecord] = field(default_factory=list)
    adopted: bool = False
    outcomes: dict[str, InvoiceOutcome] = field(default_factory=dict)
    partner_shown: str | None = None
    """The freee partner id the company shows in HubSpot, once a deal's write-back wrote (or read) it: written
    once per company, not once per deal."""
    marked: set[str] = field(default_factory=set)
    """The charges (unit keys) invoiced by this pass: on a window's invoice, or finished on their own."""


# ------------------------------------------------------------------------------------------------ enrol


def enrol(
    ctx: Context,
    bundle: DealBundle,
    draft: InvoiceDraft,
    plan: Plan | None,
    billing: CompanyBilling,
    trigger: str,
    *,
    on: date | None = None,
) -> InvoiceOutcome:
    """Put a won deal of a consolidated company on its company's invoices (its schedule saved, nothing invoiced for
    it alone), bill the company's windows closed on or before ``on`` (default today in Tokyo), and answer for the
    deal."""
    portal_id, deal_id = bundle.portal_id, bundle.deal.id
    day = on or tokyo_today(ctx.now())
    stored = ctx.store.get_schedule(portal_id, deal_id)
    halted = halted_schedule(ctx, bundle, stored, trigger)
    if halted is not None:
        return halted
    chosen = _plan_of(draft, plan, stored)
    if chosen is None:
        assert stored is not None  # noqa: S101 - _plan_of keeps a one-off plan; only a schedule loses its lines
        return stop_schedule(ctx, stored, "no_schedule", trigger)
    mark_scheduled(ctx, portal_id, deal_id, trigger)
    schedule = _save(ctx, bundle, draft, chosen, stored, billing, {})
    member = Member(bundle, draft, chosen, schedule)
    company = bundle.company
    assert company is not None  # noqa: S101 - validate_deal refuses a deal without a company
    billed = bill_company(ctx, portal_id, company.id, day, trigger, member=member)
    outcome = billed.outcomes.get(deal_id)
    if outcome is not None:
        return outcome
    return InvoiceOutcome(Result.SCHEDULED, portal_id, deal_id, warnings=draft.warnings)


def bill_company_of(ctx: Context, schedule: ScheduleRow, trigger: str, on: date | None) -> InvoiceOutcome:
    """The billing pass's job for a consolidated company's deal: bill the whole company (every deal of it is read
    and checked, this one too), and answer for this deal."""
    assert schedule.company_id is not None  # noqa: S101 - consolidated schedules name their company
    day = on or tokyo_today(ctx.now())
    billed = bill_company(ctx, schedule.portal_id, schedule.company_id, day, trigger)
    outcome = billed.outcomes.get(schedule.deal_id)
    if outcome is not None:
        return outcome
    return InvoiceOutcome(Result.SCHEDULED, schedule.portal_id, schedule.deal_id)


def _plan_of(draft: InvoiceDraft, live: Plan | None, stored: ScheduleRow | None) -> Plan | None:
    """The deal's plan: a deal billed once keeps the one-period plan it was enrolled with (its billing date does
    not move); a schedule follows the deal's line items (``None``: it lost them)."""
    if stored is not None:
        kept = Plan.from_plain(stored.plan)
        if kept.kind is PlanKind.ONCE:
            return kept
        return live
    return live if live is not None else Plan.once(draft)


# ------------------------------------------------------------------------------------------ the company


def last_closing(day: date, closing_day: int) -> date:
    """The latest closing date on or before ``day``."""
    window = window_of(day, closing_day)
    return day if window.end == day else window.start - timedelta(days=1)


def bill_company(
    ctx: Context,
    portal_id: int,
    company_id: str,
    on: date,
    trigger: str,
    *,
    member: Member | None = None,
) -> CompanyBilled:
    """Issue the company's consolidated invoices for every window closed on or before ``on`` (see the module's
    steps), then save each deal's schedule and write it back. ``member``: a deal just enrolled (read already)."""
    billed = CompanyBilled(company_id)
    schedules = {
        s.deal_id: s
        for s in ctx.store.schedules_for_company(portal_id, company_id)
        if s.consolidated and s.state is ScheduleState.ACTIVE
    }
    members: dict[str, Member] = {}
    if member is not None:
        schedules.pop(member.deal_id, None)
        members[member.deal_id] = member
        if not any(s.next_due is not None and s.next_due <= on for s in schedules.values()) and not (
            member.schedule.next_due is not None and member.schedule.next_due <= on
        ):
            _finish(ctx, members, {}, trigger, billed)  # nothing closed yet: the deal shows its schedule
            return billed
    billing: CompanyBilling | None = None
    for schedule in sorted(schedules.values(), key=lambda s: int(s.deal_id)):
        found = _member(ctx, schedule, trigger, billed)
        if found is not None:
            members[found.deal_id] = found
    if not members:
        return billed
    template = next(iter(members.values()))
    company = template.bundle.company
    assert company is not None  # noqa: S101 - validated
    billing, problems = company_billing(company, ctx.settings)
    if problems:
        for m in members.values():
            billed.outcomes[m.deal_id] = refuse_schedule(
                ctx, m.bundle, ValidationFailed(problems, m.draft.warnings), trigger
            )
        return billed
    if (
        not billing.consolidated
    ):  # the company went back to an invoice per deal: each deal bills its own periods
        from sdk.usecases.billing import bill_schedule

        for m in members.values():
            billed.outcomes[m.deal_id] = bill_schedule(ctx, m.bundle, m.draft, m.plan, trigger, on=on)
        return billed

    closed = last_closing(on, billing.closing_day)
    charges = _charges(ctx, members, closed, trigger, billed)
    windows = _windows(ctx, portal_id, company_id, charges, billing, closed)
    assigned = _assign(ctx, portal_id, company_id, charges, windows, trigger, billed)
    for window, chosen in sorted(assigned.items()):
        if window.end > closed or not chosen:
            continue
        _issue_window(ctx, portal_id, company_id, window, chosen, members, billing, trigger, billed)
    targets = {c.key: w for w, chosen in assigned.items() for c in chosen}
    _finish(ctx, members, targets, trigger, billed, billing=billing)
    return billed


def _member(ctx: Context, schedule: ScheduleRow, trigger: str, billed: CompanyBilled) -> Member | None:
    """A deal of the company read and checked: ``None`` (and its outcome noted) when it stops or is refused."""
    try:
        bundle = read_bundle(ctx, schedule.portal_id, schedule.deal_id)
    except HubSpotNotFound:
        billed.outcomes[schedule.deal_id] = InvoiceOutcome(
            Result.DEAL_MISSING, schedule.portal_id, schedule.deal_id
        )
        return None
    if not is_won(ctx, bundle):
        billed.outcomes[schedule.deal_id] = stop_schedule(ctx, schedule, "left_won", trigger)
        return None
    halted = halted_schedule(ctx, bundle, schedule, trigger)
    if halted is not None:
        billed.outcomes[schedule.deal_id] = halted
        return None
    from sdk.billing.schedule import plan_for_deal

    try:
        draft = validate_deal(bundle, ctx.settings, today=tokyo_today(ctx.now()))
        live = plan_for_deal(bundle, draft, ctx.settings)
    except ValidationFailed as failure:
        billed.outcomes[schedule.deal_id] = refuse_schedule(ctx, bundle, failure, trigger)
        return None
    plan = _plan_of(draft, live, schedule)
    if plan is None:
        billed.outcomes[schedule.deal_id] = stop_schedule(ctx, schedule, "no_schedule", trigger)
        return None
    return Member(bundle, draft, plan, schedule)


def _charges(
    ctx: Context, members: Mapping[str, Member], closed: date, trigger: str, billed: CompanyBilled
) -> list[Charge]:
    """Every period billed on or before ``closed`` not invoiced yet, as a charge."""
    charges: list[Charge] = []
    for m in members.values():
        periods = [p for p in m.plan.periods(through=closed) if p.billing_date <= closed]
        keys = [Unit.of_period(m.deal_id, p.number).key for p in periods]
        found = ctx.store.get_ledgers(m.bundle.portal_id, keys)
        for period in periods:
            key = Unit.of_period(m.deal_id, period.number).key
            row = found.get(key)
            if row is not None and row.state in INVOICED:
                continue
            lines = period_lines(m.draft, m.plan, period.number)
            if not lines:
                continue
            if row is not None and _started_alone(row):  # an invoice of its own may exist in freee: finish it
                done = bill_period(
                    ctx, m.bundle, period_draft(m.draft, m.plan, period.number, ctx.settings), trigger
                )
                if isinstance(done, tuple):
                    billed.marked.add(key)
                continue
            label = period.label_ja if m.plan.kind is not PlanKind.ONCE else ""
            name = m.draft.deal_name or m.deal_id
            charges.append(
                Charge(Unit.of_period(m.deal_id, period.number), name, label, period.billing_date, lines)
            )
    return charges


def _started_alone(row: LedgerRow) -> bool:
    """A period row an attempt at its own invoice got as far as noting the intent for (never one of ours)."""
    on_window = any(Unit.from_key(key).is_consolidated for key, _ in row.charges)
    return row.partner_id is not None and not on_window


def _windows(
    ctx: Context,
    portal_id: int,
    company_id: str,
    charges: Sequence[Charge],
    billing: CompanyBilling,
    closed: date,
) -> dict[Window, LedgerRow | None]:
    """The windows from the oldest charge's to the last closed one, with their rows (``None``: never claimed)."""
    if not charges:
        return {}
    window = window_of(min(c.billing_date for c in charges), billing.closing_day)
    listed: list[Window] = []
    while window.end <= closed:
        listed.append(window)
        window = window.following(billing.closing_day)
    listed.append(window)  # the open window: where a charge goes when every closed one is issued
    rows = ctx.store.get_ledgers(portal_id, [Unit.consolidated(company_id, w.end).key for w in listed])
    return {w: rows.get(Unit.consolidated(company_id, w.end).key) for w in listed}


def _assign(
    ctx: Context,
    portal_id: int,
    company_id: str,
    charges: Sequence[Charge],
    windows: Mapping[Window, LedgerRow | None],
    trigger: str,
    billed: CompanyBilled,
) -> dict[Window, list[Charge]]:
    """Each charge to its window: the one an issued window lists it on (its mark completed now), the one a resumed
    window noted it on, else the first window on or after its own that is neither issued nor noted."""
    by_key = {c.key: c for c in charges}
    placed: dict[Window, list[Charge]] = {w: [] for w in windows}
    left = dict(by_key)
    for window, row in sorted(windows.items()):
        if row is None:
            continue
        noted = [by_key[key] for key, _ in row.charges if key in left]
        if row.state in INVOICED and row.invoice is not None:
            if noted:
                _mark_charges(ctx, portal_id, company_id, row, row.charges, trigger, billed)
        else:
            placed[window].extend(noted)
        for charge in noted:
            left.pop(charge.key, None)
    ordered = sorted(windows)
    for charge in sorted(left.values(), key=lambda c: c.order):
        for window in ordered:
            row = windows[window]
            if window.end >= charge.billing_date and (
                row is None or (row.state not in INVOICED and not row.charges)
            ):
                placed[window].append(charge)
                break
    return {w: sorted(cs, key=lambda c: c.order) for w, cs in placed.items()}


def _issue_window(
    ctx: Context,
    portal_id: int,
    company_id: str,
    window: Window,
    charges: list[Charge],
    members: Mapping[str, Member],
    billing: CompanyBilling,
    trigger: str,
    billed: CompanyBilled,
) -> None:
    """The window's invoice, exactly once: its row claimed, the invoice issued (or adopted), its charges marked."""
    key = Unit.consolidated(company_id, window.end).key
    token = uuid.uuid4().hex
    now = ctx.now()
    claim = ctx.store.claim(portal_id, key, token, now, now + timedelta(seconds=ctx.lease_seconds))
    if not claim.granted:
        row = claim.row
        if row.state in INVOICED and row.invoice is not None:
            _mark_charges(ctx, portal_id, company_id, row, row.charges, trigger, billed)
            return
        raise DealBusy(
            f"company {company_id}: the consolidated invoice for {window.end.isoformat()} is being made by another"
            " worker",
            retry_after=max(1.0, ((row.claim_until or now) - now).total_seconds()),
        )
    # a resumed window keeps what its earlier attempt noted, as far as those deals can still be billed; when the
    # earlier attempt's invoice is found in freee (adopted), its noted charges are the ones marked
    earlier = claim.row.charges
    keep = {k for k, _ in earlier}
    chosen = [c for c in charges if c.key in keep] or charges
    template = members[chosen[0].unit.deal_id or ""]
    company = template.bundle.company
    assert company is not None  # noqa: S101 - validated
    assert billing.terms is not None  # noqa: S101 - company_billing requires a consolidated company's terms
    draft = consolidated_draft(
        template.draft, company_id, company.name or "", window, billing.terms, chosen, ctx.settings
    )
    shares = charge_amounts(chosen, draft.tax)
    noted = tuple((c.key, shares[c.key]) for c in chosen)
    issued = issue(ctx, claim, token, template.bundle, draft, trigger, charges=noted)
    if isinstance(issued, InvoiceOutcome):  # freee or the partner refused: every deal of the window says why
        for charge in chosen:
            billed.outcomes[charge.unit.deal_id or ""] = issued
        return
    row = ctx.store.record_written(portal_id, key, {}, ctx.now(), token=token)
    marks = earlier if issued.adopted and earlier else noted
    _mark_charges(ctx, portal_id, company_id, row, marks, trigger, billed)
    billed.invoices.append(issued.record)
    billed.adopted = billed.adopted or issued.adopted
    get_logger().info(
        {
            "event": "consolidated_invoice",
            "company_id": company_id,
            "window": window.end.isoformat(),
            "charges": len(marks),
            "invoice_number": issued.record.invoice_number,
            "adopted": issued.adopted,
        }
    )


def _mark_charges(
    ctx: Context,
    portal_id: int,
    company_id: str,
    window_row: LedgerRow,
    charges: Iterable[tuple[str, int]],
    trigger: str,
    billed: CompanyBilled,
) -> None:
    """Each charge's own row ``created``, holding its share of the window's invoice and naming the window: the
    period is never billed again, and the deal counts its share. A row already marked is left as it is."""
    invoice = window_row.invoice
    assert invoice is not None  # noqa: S101 - issued windows carry their invoice
    charges = list(charges)
    rows = ctx.store.get_ledgers(portal_id, [key for key, _ in charges])
    for key, share in charges:
        row = rows.get(key)
        if row is not None and row.state in INVOICED:
            continue
        token = uuid.uuid4().hex
        now = ctx.now()
        claim = ctx.store.claim(portal_id, key, token, now, now + timedelta(seconds=ctx.lease_seconds))
        if not claim.granted:
            if claim.row.state in INVOICED:
                continue
            raise DealBusy(f"{key}: its mark for a consolidated invoice is being written", retry_after=1.0)
        intent = Intent(
            company_id, invoice.partner_id, invoice.billing_date, (), ((window_row.deal_id, share),)
        )
        ctx.store.note_intent(portal_id, key, token, intent)
        ctx.store.record_invoice(portal_id, key, token, share_of(invoice, share), ctx.now())
        ctx.store.record_written(portal_id, key, {}, ctx.now(), token=token)
        billed.marked.add(key)
        ctx.remember(portal_id, key, "charged", trigger, window=window_row.deal_id, share=share)


def share_of(invoice: InvoiceRecord, share: int) -> InvoiceRecord:
    """A charge's part of a consolidated invoice: the same invoice, its total the charge's share (tax in the
    invoice's proportion)."""
    tax = share * invoice.amount_tax // invoice.amount_total if invoice.amount_total else 0
    return replace(invoice, amount_total=share, amount_tax=tax, amount_net=share - tax)


# ------------------------------------------------------------------------------------------ the deals


def _finish(
    ctx: Context,
    members: Mapping[str, Member],
    targets: Mapping[str, Window],
    trigger: str,
    billed: CompanyBilled,
    *,
    billing: CompanyBilling | None = None,
) -> None:
    """Each deal's schedule saved (its next billing date: the closing date its next charge goes out on) and the
    deal written back; its outcome noted."""
    for m in members.values():
        if m.deal_id in billed.outcomes:  # refused with the window: the deal says why already
            continue
        closing = billing.closing_day if billing is not None else _closing_day(ctx, m)
        saved = _save(ctx, m.bundle, m.draft, m.plan, m.schedule, closing, targets)
        period_rows = schedule_rows(ctx, saved)
        billed.partner_shown = write_schedule_back(
            ctx, m.bundle, saved, period_rows, m.draft.warnings, trigger, company_shows=billed.partner_shown
        )
        mine = [
            r.invoice
            for r in period_rows
            if r.invoice is not None and r.state is LedgerState.CREATED and r.deal_id in billed.marked
        ]
        latest = max(
            (r.invoice for r in period_rows if r.invoice is not None and r.state is LedgerState.CREATED),
            key=lambda i: (i.billing_date, i.invoice_id),
            default=None,
        )
        if mine:
            billed.outcomes[m.deal_id] = InvoiceOutcome(
                Result.CREATED,
                m.bundle.portal_id,
                m.deal_id,
                mine[-1],
                warnings=m.draft.warnings,
                invoices=tuple(mine),
            )
        elif latest is not None:
            billed.outcomes[m.deal_id] = InvoiceOutcome(
                Result.ALREADY_INVOICED, m.bundle.portal_id, m.deal_id, latest, warnings=m.draft.warnings
            )
        else:
            billed.outcomes[m.deal_id] = InvoiceOutcome(
                Result.SCHEDULED, m.bundle.portal_id, m.deal_id, warnings=m.draft.warnings
            )


def _closing_day(ctx: Context, m: Member) -> int:
    company = m.bundle.company
    assert company is not None  # noqa: S101 - validated
    return company_billing(company, ctx.settings)[0].closing_day


def _save(
    ctx: Context,
    bundle: DealBundle,
    draft: InvoiceDraft,
    plan: Plan,
    stored: ScheduleRow | None,
    billing: CompanyBilling | int,
    targets: Mapping[str, Window],
) -> ScheduleRow:
    """The deal's consolidated schedule saved with a conditional write (read again when another writer saved
    first): its next billing date is the closing date of the window its first charge not invoiced goes on."""
    closing_day = billing if isinstance(billing, int) else billing.closing_day
    portal_id, deal_id = bundle.portal_id, bundle.deal.id
    for _ in range(5):
        next_window = _next_window(ctx, portal_id, deal_id, draft, plan, closing_day, targets)
        row = ScheduleRow(
            portal_id=portal_id,
            deal_id=deal_id,
            state=ScheduleState.ACTIVE if next_window is not None else ScheduleState.ENDED,
            plan=plan.to_plain(),
            next_due=next_window,
            company_id=draft.hubspot_company_id,
            consolidated=True,
            version=stored.version if stored is not None else 0,
        )
        try:
            return ctx.store.save_schedule(row, ctx.now())
        except ScheduleConflict:
            stored = ctx.store.get_schedule(portal_id, deal_id)
            if stored is not None and stored.state is ScheduleState.STOPPED:
                return stored
    raise DealBusy(f"deal {deal_id}: its schedule keeps changing under this attempt", retry_after=1.0)


def _next_window(
    ctx: Context,
    portal_id: int,
    deal_id: str,
    draft: InvoiceDraft,
    plan: Plan,
    closing_day: int,
    targets: Mapping[str, Window],
) -> date | None:
    """The closing date the deal's first period with something to bill and not invoiced goes out on."""
    number = 1
    while plan.count is None or number <= plan.count:
        stop = number + 100 if plan.count is None else min(number + 100, plan.count + 1)
        keys = [Unit.of_period(deal_id, n).key for n in range(number, stop)]
        rows = ctx.store.get_ledgers(portal_id, keys)
        for n, key in zip(range(number, stop), keys, strict=True):
            row = rows.get(key)
            if (row is None or row.state not in INVOICED) and period_lines(draft, plan, n):
                target = targets.get(key)
                return (target or window_of(plan.period(n).billing_date, closing_day)).end
        number = stop
    return None
