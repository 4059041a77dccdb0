"""The last attempt at a queued deal failed: say so on the deal, release a waiting workflow, keep the history.

The message then goes to the dead-letter queue; ``hubspot-freee dlq redrive`` replays it once the cause is fixed.
The deal and the workflow get words a rep can act on (:mod:`sdk.usecases.reasons`); the exception itself goes to
the log, the history and the ledger's ``last_error``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sdk.errors import Problem
from sdk.log import get_logger
from sdk.store import Failure, LedgerRow, LedgerState
from sdk.usecases.action_outputs import action_output_fields
from sdk.usecases.create_invoice import InvoiceOutcome, Result
from sdk.usecases.reasons import for_the_log, gave_up_reason, retrying_reason
from sdk.usecases.waiters import complete_queued_action

if TYPE_CHECKING:
    from sdk.queue import InvoiceJob
    from sdk.usecases.context import Context


def give_up(ctx: Context, job: InvoiceJob, attempts: int, error: BaseException) -> None:
    """The last attempt failed: say so on the deal (unless another worker holds it or it is invoiced), complete a
    blocked workflow action, remember it. Each step is best-effort: the message goes to the DLQ regardless."""
    logger = get_logger()
    reason = gave_up_reason(attempts, error)
    technical = for_the_log(error)
    outcome: InvoiceOutcome | None = None
    try:
        row = show_failed(ctx, job, reason, technical)
        if row is not None and row.state is LedgerState.CREATED:
            outcome = InvoiceOutcome(
                Result.ALREADY_INVOICED, job.portal_id, job.deal_id, row.invoice, warnings=row.warnings
            )
        ctx.remember(job.portal_id, job.deal_id, "gave_up", job.trigger, attempts=attempts, error=technical)
    except Exception:
        logger.exception({"event": "give_up_not_shown", "attempts": attempts})
    if job.callback_id:
        try:  # unless someone took the action's waiter and completed it already
            fields = action_output_fields(outcome, None if outcome else reason.line())
            complete_queued_action(ctx, job, fields)
        except Exception:
            logger.exception({"event": "callback_not_completed", "callback_id": job.callback_id})
    logger.error({"event": "message_gave_up", "attempts": attempts, "error": technical})


def show_failed(ctx: Context, job: InvoiceJob, reason: Problem, error: str) -> LedgerRow | None:
    """Show ``failed`` and ``reason`` on the deal the way an attempt does: claim it first, write while the claim
    is held, then record the failure (with what was written, ``reason`` for the rep and ``error`` for the
    operator) and release it. ``None`` once written; otherwise the
    row that stopped it, and nothing is written: the deal is invoiced or cancelled, or another attempt holds it (or
    is settling after a lost answer) and will say how it went."""
    now = ctx.now()
    token = uuid.uuid4().hex
    claim = ctx.store.claim(
        job.portal_id, job.deal_id, token, now, now + timedelta(seconds=ctx.lease_seconds)
    )
    if not claim.granted:
        return claim.row
    names = ctx.settings.properties
    values = {names.deal_sync_status: "failed", names.deal_sync_error: reason.line()}
    try:
        ctx.hubspot.update_deals({job.deal_id: values})
    except Exception:
        failure = Failure(LedgerState.FAILED, error, reasons=(reason,))
        ctx.store.record_failure(job.portal_id, job.deal_id, token, failure, ctx.now())
        raise
    failure = Failure(LedgerState.FAILED, error, values, reasons=(reason,))
    ctx.store.record_failure(job.portal_id, job.deal_id, token, failure, ctx.now())
    return None


def show_retrying(ctx: Context, job: InvoiceJob, attempts: int, error: BaseException) -> None:
    """An attempt failed where the invoice process could not say so itself (before its claim, or outside it): show
    ``failed`` and that it will be retried, so a deal that ends in the dead-letter queue always carries a reason.
    Written under a claim (:func:`show_failed`), and not at all over a deal that is invoiced, that another worker
    holds, or that already shows its failure."""
    row = ctx.store.get_ledger(job.portal_id, job.deal_id)
    if row is not None and not _failure_unshown(ctx, row):
        return
    technical = for_the_log(error)
    if show_failed(ctx, job, retrying_reason(attempts, error), technical) is None:
        ctx.remember(job.portal_id, job.deal_id, "retrying", job.trigger, attempts=attempts, error=technical)


def _failure_unshown(ctx: Context, row: LedgerRow) -> bool:
    """A row left ``creating`` (its attempt died), or ``failed`` without the deal showing it (its attempt could
    not write it, e.g. HubSpot was down too)."""
    if row.state is LedgerState.CREATING:
        return True
    return (
        row.state is LedgerState.FAILED
        and row.written.get(ctx.settings.properties.deal_sync_status) != "failed"
    )
