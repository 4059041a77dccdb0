"""Deal won → exactly one freee invoice, written back onto the deal (DESIGN §3).

``create_invoice_for_deal`` reads as the process: read the deal, check it is won, see whether it is already
invoiced, validate, claim it, find or create the partner, look for an invoice an earlier attempt may have left,
create the invoice, record it, write it back — and, whatever the outcome, complete the workflow actions waiting on
the deal (:mod:`sdk.usecases.waiters`). Every write is safe to repeat; a crash anywhere is finished by the next
attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from sdk.billing.consolidation import company_billing
from sdk.billing.schedule import plan_for_deal
from sdk.billing.units import Unit, parse_marker
from sdk.errors import (
    ClaimLost,
    DealBusy,
    LeaseLost,
    LeaseTooShort,
    PartnerConflict,
    Problem,
    Retryable,
    ValidationFailed,
    lines,
)
from sdk.freee.errors import FreeeDisconnected, FreeeOutcomeUnknown, FreeeValidationError
from sdk.hubspot.errors import HubSpotNotFound
from sdk.log import get_logger
from sdk.mapping import PartnerRef, build_invoice_request, known_partner
from sdk.models.freee import Invoice
from sdk.models.hubspot import DealBundle
from sdk.pipelines import is_won_stage
from sdk.settings import LEASE_MARGIN_SECONDS
from sdk.store import Claim, Failure, Intent, InvoiceRecord, LedgerRow, LedgerState, ScheduleState
from sdk.tenant import check_portal
from sdk.terms import tokyo_today
from sdk.usecases.context import Context
from sdk.usecases.orphans import record_orphan
from sdk.usecases.partners import resolve_partner
from sdk.usecases.reasons import DISCONNECTED, failed_reason, for_the_log, refused_by_freee
from sdk.validation import InvoiceDraft, validate_deal


class Result(StrEnum):
    CREATED = "created"
    ALREADY_INVOICED = "already_invoiced"
    INVALID = "invalid"
    NOT_WON = "not_won"
    DEAL_MISSING = (
        "deal_missing"  # the deal is not in HubSpot (deleted since it was won, or another portal's)
    )
    FLAGGED_LOST = "flagged_lost"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"  # the deal's schedule is stored; none of its periods is billed yet
    STOPPED = "stopped"  # the deal's schedule stopped (left won, lost its recurring lines): no more periods


@dataclass(frozen=True, slots=True)
class InvoiceOutcome:
    """How one attempt at a deal's invoice ended: its ``result``, the invoice (created now, or earlier), every
    problem that stopped it, what validation warned about (``warnings``: the invoice can be made, but a rep
    should look), and ``adopted`` when the invoice was found in freee from an earlier attempt."""

    result: Result
    portal_id: int
    deal_id: str
    invoice: InvoiceRecord | None = None
    problems: tuple[Problem, ...] = field(default=())
    adopted: bool = False
    warnings: tuple[Problem, ...] = field(default=())
    invoices: tuple[InvoiceRecord, ...] = field(default=())
    """Every invoice this attempt created or adopted when it made several (a schedule catching up on its due
    periods); ``invoice`` is the last of them."""

    @property
    def error_message(self) -> str:
        return lines(self.problems)

    @property
    def warning_message(self) -> str:
        return lines(self.warnings)


#: the trigger of the billing pass's jobs (:func:`sdk.usecases.billing.queue_due`)
SCHEDULED_BILLING = "billing"

#: the most invoices ``GET /iv/invoices`` lists per call, and the most partners it filters by
LIST_PAGE = 100
PARTNERS_PER_LIST = 3


#: what a deal waiting on a reconnection to freee shows in ``freee_sync_error`` (``freee_sync_status`` ``failed``)
FREEE_DISCONNECTED_MESSAGE = DISCONNECTED.line()


def create_invoice_for_deal(
    ctx: Context, portal_id: int, deal_id: str, trigger: str, *, on: date | None = None
) -> InvoiceOutcome:
    """Invoice the deal (or confirm its invoice), then complete every workflow action waiting on it.

    Another portal than this installation's is refused first (:class:`~sdk.errors.ForeignPortal`), before any
    read or write: the entry points refuse it already; this is the second line."""
    check_portal(ctx.settings, portal_id)
    # imported here: waiters → action_outputs → this module
    from sdk.usecases.waiters import complete_waiters

    outcome = _invoice_deal(ctx, portal_id, deal_id, trigger, on)
    complete_waiters(ctx, outcome)
    return outcome


def _invoice_deal(
    ctx: Context, portal_id: int, deal_id: str, trigger: str, on: date | None
) -> InvoiceOutcome:
    ctx.remember(portal_id, deal_id, "triggered", trigger)
    if (
        trigger == SCHEDULED_BILLING
    ):  # a consolidated company's deal from the billing pass: the whole company is billed
        schedule = ctx.store.get_schedule(portal_id, deal_id)
        if schedule is not None and schedule.consolidated and schedule.state is ScheduleState.ACTIVE:
            from sdk.usecases.consolidate import bill_company_of

            return bill_company_of(ctx, schedule, trigger, on)
    row = ctx.store.get_ledger(portal_id, deal_id)
    try:
        bundle = read_bundle(ctx, portal_id, deal_id)
    except HubSpotNotFound:  # nothing to invoice, and nothing to retry: no later attempt will find it either
        ctx.remember(portal_id, deal_id, "deal_missing", trigger)
        get_logger().warning({"event": "deal_missing", "deal_id": deal_id, "portal_id": portal_id})
        missing = Problem(
            "deal.not_found",
            "deal",
            f"取引 {deal_id} がHubSpotに見つかりません（削除されたか、別のポータルの取引です）。",
            f"Deal {deal_id} was not found in HubSpot (deleted, or in another portal).",
        )
        return InvoiceOutcome(Result.DEAL_MISSING, portal_id, deal_id, problems=(missing,))

    if not is_won(ctx, bundle):
        if row is not None and row.state is LedgerState.CREATED:
            return _deal_left_won_stage(ctx, row, trigger)
        schedule = ctx.store.get_schedule(portal_id, deal_id) if row is not None else None
        if schedule is not None and schedule.state is ScheduleState.ACTIVE:
            from sdk.usecases.billing import stop_schedule

            return stop_schedule(ctx, schedule, "left_won", trigger)
        ctx.remember(portal_id, deal_id, "not_won", trigger, stage=bundle.deal.stage)
        return InvoiceOutcome(Result.NOT_WON, portal_id, deal_id)

    if row is not None and row.state in (LedgerState.CREATED, LedgerState.CANCELLED):
        return _already_invoiced(ctx, row, trigger)

    scheduled = row is not None and row.state is LedgerState.SCHEDULED
    try:
        draft = validate_deal(bundle, ctx.settings, today=tokyo_today(ctx.now()))
        plan = plan_for_deal(bundle, draft, ctx.settings)
        company = bundle.company
        assert company is not None  # noqa: S101 - validate_deal refuses a deal without a company
        billing, company_problems = company_billing(company, ctx.settings)
        if company_problems:
            raise ValidationFailed(company_problems, draft.warnings)
    except ValidationFailed as failure:
        if scheduled:  # invoices exist: the schedule waits for the fix, its deal says why
            from sdk.usecases.billing import refuse_schedule

            return refuse_schedule(ctx, bundle, failure, trigger)
        return _refuse(ctx, portal_id, deal_id, trigger, failure.problems, failure.warnings)
    if billing.consolidated:
        from sdk.usecases.consolidate import enrol  # consolidation builds on this module's protocol

        return enrol(ctx, bundle, draft, plan, billing, trigger, on=on)
    if plan is not None or scheduled:
        from sdk.usecases.billing import bill_schedule  # billing builds on this module's protocol

        return bill_schedule(ctx, bundle, draft, plan, trigger, on=on)

    token = uuid.uuid4().hex
    claim = ctx.store.claim(
        portal_id, deal_id, token, ctx.now(), ctx.now() + timedelta(seconds=ctx.lease_seconds)
    )
    if not claim.granted:
        return _not_ours(ctx, claim, trigger)
    issued = issue(ctx, claim, token, bundle, draft, trigger)
    if isinstance(issued, InvoiceOutcome):
        return issued
    company = bundle.company
    assert company is not None  # noqa: S101 - validate_deal refuses a deal without a company
    shown = company.prop(ctx.settings.properties.company_partner_id)
    _write_back(ctx, issued.row, trigger, token=token, partner_id=issued.partner_id, company_shows=shown)
    return InvoiceOutcome(
        Result.CREATED,
        portal_id,
        deal_id,
        issued.record,
        adopted=issued.adopted,
        warnings=issued.row.warnings,
    )


@dataclass(frozen=True, slots=True)
class Issued:
    """An invoice created (or adopted) for a unit by :func:`issue`: the unit's row, now ``created`` and still
    claimed by the attempt (so its write-back happens once), the invoice, and the partner it was made for."""

    row: LedgerRow
    record: InvoiceRecord
    adopted: bool
    partner_id: int


def issue(
    ctx: Context,
    claim: Claim,
    token: str,
    bundle: DealBundle,
    draft: InvoiceDraft,
    trigger: str,
    *,
    charges: tuple[tuple[str, int], ...] = (),
) -> Issued | InvoiceOutcome:
    """The exactly-once protocol for one billing unit (DESIGN §3), given the granted claim on its ledger row
    (``draft.unit``): find or create the partner, note where the invoice will be, look for an invoice an earlier
    attempt left (by the unit's marker), else create it, and record it.

    Returns the invoice with the claim still held; or, when freee or the partner refuses the deal, the ``invalid``
    outcome (shown on the deal, the claim released). Any other failure is recorded as retryable and raised.

    ``charges``: a consolidated invoice's units and shares, noted with the intent (and shown every failure on each
    of their deals)."""
    if charges:
        claim = replace(claim, row=replace(claim.row, charges=charges))
    row = claim.row
    portal_id, key = row.portal_id, row.deal_id
    ctx.remember(portal_id, key, "claimed", trigger, attempt=row.attempts, resumed=claim.resumed)
    company = bundle.company
    assert company is not None  # noqa: S101 - validate_deal refuses a deal without a company
    warnings = draft.warnings
    before_write = _renew_before_write(ctx, claim, token)
    try:
        partner = resolve_partner(ctx, bundle, company, before_write=before_write)
    except PartnerConflict as conflict:
        return _fail_invalid(ctx, claim, token, trigger, (conflict.problem,), warnings)
    except Exception as error:
        _fail_retryable(ctx, claim, token, trigger, error, warnings)
        raise
    ctx.remember(portal_id, key, "partner", trigger, partner_id=partner.partner_id, how=partner.how)
    ctx.store.note_intent(
        portal_id, key, token, Intent(company.id, partner.partner_id, draft.billing_date, warnings, charges)
    )

    try:
        existing = _left_by_earlier_attempt(ctx, claim, partner.partner_id, draft) if claim.resumed else None
        if existing is not None:
            invoice = existing
        else:
            request = build_invoice_request(
                draft,
                ctx.settings,
                company_id=ctx.freee.company_id,
                partner=PartnerRef(id=partner.partner_id),
            )
            invoice = ctx.freee.create_invoice(request, before_send=before_write)
    except FreeeValidationError as refused:
        return _fail_invalid(ctx, claim, token, trigger, (refused_by_freee(refused),), warnings)
    except Exception as error:
        _fail_retryable(ctx, claim, token, trigger, error, warnings)
        raise

    record = _record(invoice)
    try:
        recorded = ctx.store.record_invoice(portal_id, key, token, record, ctx.now())
    except ClaimLost:
        raise _claim_lost_after_write(
            ctx, portal_id, key, invoice, trigger, created=existing is None
        ) from None
    ctx.remember(
        portal_id,
        key,
        "invoice_adopted" if existing is not None else "invoice_created",
        trigger,
        invoice_id=record.invoice_id,
        invoice_number=record.invoice_number,
        total=record.amount_total,
    )
    return Issued(recorded, record, existing is not None, partner.partner_id)


@dataclass(frozen=True, slots=True)
class InvoicePlan:
    """What ``create_invoice_for_deal`` would do, without doing it (``invoice create --dry-run``)."""

    portal_id: int
    deal_id: str
    won: bool
    ledger: LedgerRow | None
    draft: InvoiceDraft | None = None
    freee_request: dict[str, object] | None = None
    partner: str = ""
    deal_write: dict[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = field(default=())
    warnings: tuple[Problem, ...] = field(default=())


def plan_invoice_for_deal(ctx: Context, portal_id: int, deal_id: str) -> InvoicePlan:
    """Read and check the deal, and show the exact freee request and deal write-back. Writes nothing anywhere
    (the partner is looked up only where that costs no freee write)."""
    check_portal(ctx.settings, portal_id)
    row = ctx.store.get_ledger(portal_id, deal_id)
    bundle = read_bundle(ctx, portal_id, deal_id)
    won = is_won(ctx, bundle)
    if row is not None and row.state in (LedgerState.CREATED, LedgerState.CANCELLED):
        return InvoicePlan(
            portal_id,
            deal_id,
            won,
            row,
            deal_write=_changed(deal_values(ctx, row), row.written),
            warnings=row.warnings,
        )
    names = ctx.settings.properties
    try:
        draft = validate_deal(bundle, ctx.settings, today=tokyo_today(ctx.now()))
    except ValidationFailed as failure:
        write = {names.deal_sync_status: "invalid", names.deal_sync_error: failure.summary()}
        write |= warning_change(ctx, row, failure.warnings)
        return InvoicePlan(
            portal_id,
            deal_id,
            won,
            row,
            problems=failure.problems,
            deal_write=write,
            warnings=failure.warnings,
        )
    company = bundle.company
    assert company is not None  # noqa: S101 - validated
    linked = ctx.store.partner_for_company(portal_id, company.id)
    ref = PartnerRef(id=linked) if linked is not None else known_partner(company, ctx.settings)
    partner = (
        f"freee partner {ref.id}"
        if ref.id is not None
        else f"partner code {ref.code} (found or created in freee)"
    )
    request = build_invoice_request(draft, ctx.settings, company_id=ctx.freee.company_id, partner=ref)
    write = {
        names.deal_invoice_id: "<freee invoice id>",
        names.deal_invoice_number: "<freee invoice number>",
        names.deal_invoice_url: "<freee invoice url>",
        names.deal_amount_invoiced: str(draft.tax.gross),
        names.deal_due_date: draft.due_date.isoformat(),
        names.deal_sync_status: "created",
        names.deal_payment_status: "unpaid",
        names.deal_sync_error: "",
    }
    write |= warning_change(ctx, row, draft.warnings)
    return InvoicePlan(
        portal_id, deal_id, won, row, draft, request.to_json(), partner, write, warnings=draft.warnings
    )


# --------------------------------------------------------------------------------------------------- steps


def read_bundle(ctx: Context, portal_id: int, deal_id: str) -> DealBundle:
    """The deal as an invoice is made from it: its line items (up to freee's line limit), company, no contact."""
    return ctx.hubspot.read_deal_bundle(
        portal_id, deal_id, with_contact=False, max_line_items=ctx.settings.freee_max_lines
    )


def is_won(ctx: Context, bundle: DealBundle) -> bool:
    return is_won_stage(bundle.deal.pipeline, bundle.deal.stage, ctx.hubspot.won_stages())


def _record(invoice: Invoice) -> InvoiceRecord:
    return InvoiceRecord(
        invoice_id=invoice.id,
        invoice_number=invoice.invoice_number,
        invoice_url=invoice.report_url,
        partner_id=invoice.partner_id,
        amount_net=invoice.amount_excluding_tax,
        amount_tax=invoice.amount_tax,
        amount_total=invoice.total_amount,
        billing_date=invoice.billing_date,
        due_date=invoice.payment_date,
    )


def _renew_before_write(ctx: Context, claim: Claim, token: str) -> Callable[[], None]:
    """What runs right before each freee write of this attempt, after every wait (DESIGN §3.5): the lease renewed
    with a conditional write, and the write let through only with more of it left than freee's timeout plus
    :data:`~sdk.settings.LEASE_MARGIN_SECONDS`. Raises (nothing is sent) :class:`LeaseLost` when another attempt
    took the deal over meanwhile, :class:`LeaseTooShort` when too little lease is left."""
    row = claim.row

    def renew() -> None:
        now = ctx.now()
        until = now + timedelta(seconds=ctx.lease_seconds)
        try:
            renewed = ctx.store.renew_claim(row.portal_id, row.deal_id, token, now, until)
        except ClaimLost:
            raise LeaseLost(
                f"deal {row.deal_id}: another attempt took the deal over while this one waited; nothing was sent"
                " to freee",
                retry_after=ctx.lease_seconds,
            ) from None
        left = ((renewed.claim_until or now) - ctx.now()).total_seconds()
        needed = ctx.settings.freee_timeout_seconds + LEASE_MARGIN_SECONDS
        if left <= needed:
            raise LeaseTooShort(
                f"deal {row.deal_id}: {left:.1f}s of the lease left, more than {needed:g}s needed to send a freee"
                " write; nothing was sent",
                retry_after=1.0,
            )

    return renew


def _claim_lost_after_write(
    ctx: Context, portal_id: int, deal_id: str, invoice: Invoice, trigger: str, *, created: bool
) -> LeaseLost:
    """freee answered, but the claim had passed to another attempt meanwhile: an invoice this attempt created is
    an orphan (recorded for a person to cancel in freee); one it adopted is found by the other attempt too."""
    if created:
        record_orphan(ctx, portal_id, deal_id, invoice, trigger)
        return LeaseLost(
            f"deal {deal_id}: freee created invoice {invoice.invoice_number} after another attempt had taken the"
            " deal over; it is recorded as an orphan to cancel in freee (`hubspot-freee doctor`)",
            retry_after=ctx.lease_seconds,
        )
    return LeaseLost(f"deal {deal_id}: another attempt took the deal over", retry_after=ctx.lease_seconds)


def _left_by_earlier_attempt(
    ctx: Context, claim: Claim, partner_id: int, draft: InvoiceDraft
) -> Invoice | None:
    """An invoice an earlier attempt created (freee committed, the answer was lost), found by its marker at every
    partner and billing date any attempt used (the ledger's ``intents``) and at this attempt's."""
    row = claim.row
    places = {*row.intents, (partner_id, draft.billing_date)}
    if row.partner_id is not None and row.billing_date is not None:
        places.add((row.partner_id, row.billing_date))
    return next(marked_invoices(ctx, row.portal_id, row.deal_id, places), None)


def marked_invoices(
    ctx: Context, portal_id: int, deal_id: str, places: Iterable[tuple[int, date]]
) -> Iterator[Invoice]:
    """Every uncancelled freee invoice whose memo carries the deal's marker among the invoices of these (partner,
    billing date) places, each once: per billing date, its partners three at a time (freee's most per query), page
    by page until a short page. Cancelled ones are skipped here rather than filtered by freee, so an invoice
    cancelled while the pages are read cannot shift another out of them."""
    wanted = (portal_id, deal_id)
    partners_on: dict[date, set[int]] = {}
    for partner, billing in places:
        partners_on.setdefault(billing, set()).add(partner)
    seen: set[int] = set()
    for billing in sorted(partners_on):
        partners = sorted(partners_on[billing])
        for start in range(0, len(partners), PARTNERS_PER_LIST):
            offset = 0
            while True:
                page = ctx.freee.list_invoices(
                    offset=offset,
                    limit=LIST_PAGE,
                    partner_ids=partners[start : start + PARTNERS_PER_LIST],
                    start_billing_date=billing,
                    end_billing_date=billing,
                )
                for invoice in page:
                    if invoice.id in seen or invoice.is_canceled or parse_marker(invoice.memo) != wanted:
                        continue
                    seen.add(invoice.id)
                    yield invoice
                if len(page) < LIST_PAGE:
                    break
                offset += LIST_PAGE


def deal_values(ctx: Context, row: LedgerRow) -> dict[str, str]:
    """What the deal should show for its invoice, with the warnings validation gave for it (or their clearing).
    The payment status is set only the first time: afterwards it belongs to the payment sync."""
    names = ctx.settings.properties
    invoice = row.invoice
    assert invoice is not None  # noqa: S101 - only called for invoiced rows
    values = {
        names.deal_invoice_id: str(invoice.invoice_id),
        names.deal_invoice_number: invoice.invoice_number,
        names.deal_invoice_url: invoice.invoice_url,
        names.deal_amount_invoiced: str(invoice.amount_total),
        names.deal_due_date: invoice.due_date.isoformat() if invoice.due_date else "",
        names.deal_sync_status: "created",
        names.deal_sync_error: "",
        **warning_change(ctx, row, row.warnings),
    }
    if names.deal_payment_status not in row.written:
        values[names.deal_payment_status] = "unpaid"
    return values


def _changed(wanted: Mapping[str, str], written: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in wanted.items() if written.get(k) != v}


def warning_change(ctx: Context, row: LedgerRow | None, warnings: tuple[Problem, ...]) -> dict[str, str]:
    """The deal's ``freee_sync_warning`` for ``warnings`` when the deal does not show that already: the warnings,
    or an empty value that clears a warning that no longer holds (nothing when there never was one)."""
    name = ctx.settings.properties.deal_sync_warning
    shown = (row.written if row is not None else {}).get(name) or ""
    wanted = lines(warnings)
    return {name: wanted} if wanted != shown else {}


def _write_back(
    ctx: Context,
    row: LedgerRow,
    trigger: str,
    *,
    token: str | None,
    partner_id: int | None = None,
    company_shows: str | None = None,
) -> LedgerRow:
    """One batch write to the deal (only what changed) and, when needed, one to the company; then remember it."""
    names = ctx.settings.properties
    changes = _changed(deal_values(ctx, row), row.written)
    try:
        if changes:
            ctx.hubspot.update_deals({row.deal_id: changes})
        if partner_id is not None and row.company_id is not None and company_shows != str(partner_id):
            ctx.hubspot.update_companies({row.company_id: {names.company_partner_id: str(partner_id)}})
    except Exception:
        if token is not None:  # let the next attempt write back at once instead of waiting out the lease
            ctx.store.record_written(row.portal_id, row.deal_id, {}, ctx.now(), token=token)
        raise
    updated = ctx.store.record_written(row.portal_id, row.deal_id, changes, ctx.now(), token=token)
    ctx.remember(
        row.portal_id,
        row.deal_id,
        "written_back" if changes else "write_back_unchanged",
        trigger,
        fields=sorted(changes),
    )
    return updated


def _already_invoiced(ctx: Context, row: LedgerRow, trigger: str) -> InvoiceOutcome:
    if row.claimed(ctx.now()):
        raise DealBusy(
            f"deal {row.deal_id}: its invoice is being written back", retry_after=_remaining(ctx, row)
        )
    if row.state is LedgerState.CREATED:
        _write_back(ctx, row, trigger, token=None)
    result = Result.ALREADY_INVOICED if row.state is LedgerState.CREATED else Result.CANCELLED
    return InvoiceOutcome(result, row.portal_id, row.deal_id, row.invoice, warnings=row.warnings)


def _not_ours(ctx: Context, claim: Claim, trigger: str) -> InvoiceOutcome:
    row = claim.row
    if row.state in (LedgerState.CREATED, LedgerState.CANCELLED):
        return _already_invoiced(ctx, row, trigger)
    ctx.remember(row.portal_id, row.deal_id, "busy", trigger)
    raise DealBusy(
        f"deal {row.deal_id} is being invoiced by another worker", retry_after=_remaining(ctx, row)
    )


def _remaining(ctx: Context, row: LedgerRow) -> float:
    if row.claim_until is None:
        return 1.0
    return max(1.0, (row.claim_until - ctx.now()).total_seconds())


def _refuse(
    ctx: Context,
    portal_id: int,
    deal_id: str,
    trigger: str,
    problems: tuple[Problem, ...],
    warnings: tuple[Problem, ...],
) -> InvoiceOutcome:
    """A deal that cannot be invoiced: every reason on the deal, the ledger row invalid, nothing sent to freee."""
    token = uuid.uuid4().hex
    claim = ctx.store.claim(
        portal_id, deal_id, token, ctx.now(), ctx.now() + timedelta(seconds=ctx.lease_seconds)
    )
    if not claim.granted:
        return _not_ours(ctx, claim, trigger)
    return _fail_invalid(ctx, claim, token, trigger, problems, warnings)


def _fail_invalid(
    ctx: Context,
    claim: Claim,
    token: str,
    trigger: str,
    problems: tuple[Problem, ...],
    warnings: tuple[Problem, ...],
) -> InvoiceOutcome:
    """Every reason on the deal (and the warnings, where they changed), written while the claim is held (so no
    other attempt can have invoiced it meanwhile), then the row ``invalid`` with its reasons, and the claim
    released."""
    row = claim.row
    summary = lines(problems)
    names = ctx.settings.properties
    values = {names.deal_sync_status: "invalid", names.deal_sync_error: summary}
    values |= warning_change(ctx, row, warnings)
    try:
        shown = _show_failure(ctx, row, token, values)
    except Exception:
        failure = Failure(LedgerState.INVALID, summary, reasons=problems)
        ctx.store.record_failure(row.portal_id, row.deal_id, token, failure, ctx.now())
        raise  # the deal does not say why yet: retried like any HubSpot failure
    failure = Failure(LedgerState.INVALID, summary, shown, reasons=problems)
    ctx.store.record_failure(row.portal_id, row.deal_id, token, failure, ctx.now())
    ctx.remember(row.portal_id, row.deal_id, "invalid", trigger, codes=[p.code for p in problems])
    return InvoiceOutcome(Result.INVALID, row.portal_id, row.deal_id, problems=problems, warnings=warnings)


def _fail_retryable(
    ctx: Context,
    claim: Claim,
    token: str,
    trigger: str,
    error: Exception,
    warnings: tuple[Problem, ...],
) -> None:
    """Record a transient failure: shown on the deal while the claim is held, then the row ``failed`` and the claim
    released (the next attempt reconciles before creating).

    A freee write whose answer was lost (:class:`~sdk.freee.errors.FreeeOutcomeUnknown`: the invoice may exist
    and not show in freee's list yet) keeps the deal claimed for ``freee_settle_seconds`` before another attempt
    may look for it and create.

    freee disconnected is shown as such, once: while the deal waits for the reconnection its message is held and
    rechecked, and a recheck that finds the deal already showing it (the ledger's ``written``) writes nothing.

    The deal shows words a rep can act on (:func:`~sdk.usecases.reasons.failed_reason`); the exception itself goes
    to the ledger's ``last_error`` and the history, for the operator."""
    row = claim.row
    message = for_the_log(error)
    names = ctx.settings.properties
    reason = failed_reason(error)
    values = {names.deal_sync_status: "failed", names.deal_sync_error: reason.line()}
    values |= warning_change(ctx, row, warnings)
    changes = _changed(values, row.written) if isinstance(error, FreeeDisconnected) else values
    written: dict[str, str] = {}
    try:
        written = _show_failure(ctx, row, token, changes)
    except ClaimLost:
        ctx.remember(row.portal_id, row.deal_id, "claim_lost", trigger, error=message)
        return  # another attempt holds the deal now: it says how it went
    except Exception:
        ctx.remember(row.portal_id, row.deal_id, "failure_not_shown_on_deal", "system")
    settle = ctx.settings.freee_settle_seconds if isinstance(error, FreeeOutcomeUnknown) else None
    settle_until = ctx.now() + timedelta(seconds=settle) if settle is not None else None
    failure = Failure(LedgerState.FAILED, message, written, settle_until, reasons=(reason,))
    try:
        ctx.store.record_failure(row.portal_id, row.deal_id, token, failure, ctx.now())
    except ClaimLost:
        ctx.remember(row.portal_id, row.deal_id, "claim_lost", trigger, error=message)
        return
    ctx.remember(
        row.portal_id,
        row.deal_id,
        "failed",
        trigger,
        error=message,
        retryable=isinstance(error, Retryable),
        **({"settle_seconds": settle} if settle is not None else {}),
    )


def _show_failure(ctx: Context, row: LedgerRow, token: str, values: Mapping[str, str]) -> dict[str, str]:
    """Write a failure onto the deal while this attempt holds it: the lease is renewed first (:class:`ClaimLost`
    when another attempt took the deal over), so the write lands before anyone else may claim the deal and write
    its outcome. Returns what was written, for the ledger's ``written``."""
    if not values:
        return {}
    now = ctx.now()
    ctx.store.renew_claim(row.portal_id, row.deal_id, token, now, now + timedelta(seconds=ctx.lease_seconds))
    deals = deals_of(row)
    for deal_id in deals:
        # a period's (or a window's) failure: what the deal shows is kept on the deal's own row, noted before it is
        # written, so an attempt that dies in between leaves a row saying ``failed`` (the next write-back puts
        # ``created`` back) rather than a deal showing ``failed`` that no write-back would see to correct
        if deal_id != row.deal_id:
            ctx.store.record_written(row.portal_id, deal_id, values, ctx.now())
    if deals:
        ctx.hubspot.update_deals({deal_id: dict(values) for deal_id in deals})
    return dict(values)


def deals_of(row: LedgerRow) -> tuple[str, ...]:
    """The HubSpot deals a ledger row's invoice is for: the deal (a period's row is keyed ``deal:period``), or
    every deal a consolidated invoice charges (those its attempt named)."""
    unit = Unit.from_key(row.deal_id)
    if unit.deal_id is not None:
        return (unit.deal_id,)
    named = (Unit.from_key(key).deal_id for key, _ in row.charges)
    return tuple(dict.fromkeys(d for d in named if d is not None))


def _deal_left_won_stage(ctx: Context, row: LedgerRow, trigger: str) -> InvoiceOutcome:
    """An invoiced deal moved out of its won stage: say so on the deal, and cancel the invoice if allowed."""
    names = ctx.settings.properties
    invoice = row.invoice
    assert invoice is not None  # noqa: S101 - created rows carry their invoice
    if ctx.settings.cancel_invoice_when_lost:
        ctx.freee.cancel_invoice(invoice.invoice_id)
        ctx.store.mark_cancelled(row.portal_id, row.deal_id, ctx.now())
        message = (
            f"受注から外れたため、freeeの請求書 {invoice.invoice_number} を取り消しました。"
            f" / The deal left its won stage, so freee invoice {invoice.invoice_number} was cancelled."
        )
        values = {names.deal_sync_status: "cancelled", names.deal_sync_error: message}
        result = Result.CANCELLED
    else:
        message = (
            f"請求書作成後に受注から外れました。freeeの請求書 {invoice.invoice_number} の取消は経理が行ってください。"
            f" / The deal left its won stage after invoicing: accounting must cancel freee invoice "
            f"{invoice.invoice_number}."
        )
        values = {names.deal_sync_error: message}
        result = Result.FLAGGED_LOST
    changes = _changed(values, row.written)
    if changes:
        ctx.hubspot.update_deals({row.deal_id: changes})
        ctx.store.record_written(row.portal_id, row.deal_id, changes, ctx.now())
    ctx.remember(row.portal_id, row.deal_id, result.value, trigger, invoice_id=invoice.invoice_id)
    return InvoiceOutcome(result, row.portal_id, row.deal_id, invoice)
