"""Blocked workflow actions waiting on a deal: completed as soon as the deal has its outcome.

A "Create freee invoice" workflow action that cannot finish at once (another worker is invoicing the deal, freee
is busy) answers ``hs_execution_state: BLOCK`` and leaves a *waiter* in the store: its ``callbackId`` under the
deal (:func:`wait_for_deal`). Whoever then reaches the deal's outcome — the busy worker, a webhook's worker, the
action's own queued message, the CLI — takes every waiter of the deal and completes it with that outcome's output
fields (:func:`complete_waiters`, called by ``create_invoice_for_deal``), so the workflow goes on as soon as the
invoice exists instead of after the busy worker's lease. Taking is atomic per callback: each is completed once.

The action still queues a message carrying its callback (``waiter=True``): the fallback when the busy worker dies
(it runs after the lease) or never reaches an outcome. It completes its callback only if it can still take the
waiter (:func:`complete_queued_action`); give-up does the same with ``failed``.

A waiter lives :data:`WAITER_TTL`: HubSpot keeps a blocked action waiting for its callback until the expiry the
action's answer sets (``hs_expiration_duration``), one week when it sets none — and ours sets none. After that the
workflow has gone on without us and there is nothing left to complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from sdk.log import get_logger
from sdk.store import LedgerRow, LedgerState
from sdk.usecases.action_outputs import action_output_fields, typed_outputs
from sdk.usecases.create_invoice import InvoiceOutcome, Result

if TYPE_CHECKING:
    from datetime import datetime

    from sdk.queue import InvoiceJob
    from sdk.usecases.context import Context

#: how long a waiter is kept: HubSpot's default expiry of a blocked workflow action
WAITER_TTL: Final = timedelta(days=7)


def wait_for_deal(ctx: Context, portal_id: int, deal_id: str, callback_id: str) -> InvoiceOutcome | None:
    """Leave a waiter for a workflow action about to answer BLOCK.

    Returns the deal's outcome when the deal turns out to be invoiced already — its waiters were taken just
    before this one was added, so no one else would complete it: the waiter is taken back and the action answers
    at once. ``None``: the action answers BLOCK, and whoever reaches the outcome completes it.
    """
    ctx.store.add_waiter(portal_id, deal_id, callback_id, ctx.now() + WAITER_TTL)
    settled = _invoiced(ctx.store.get_ledger(portal_id, deal_id), ctx.now())
    if settled is not None and ctx.store.take_waiter(portal_id, deal_id, callback_id, ctx.now()):
        return settled
    ctx.remember(portal_id, deal_id, "action_waiting", "workflow_action", callback_id=callback_id)
    return None


def complete_waiters(ctx: Context, outcome: InvoiceOutcome) -> None:
    """Complete every workflow action waiting on the deal with ``outcome``. Never raises (the outcome stands): a
    completion HubSpot did not take is put back, for the action's queued message to try again."""
    logger = get_logger()
    try:
        waiting = ctx.store.take_waiters(outcome.portal_id, outcome.deal_id, ctx.now())
    except Exception:
        logger.exception({"event": "waiters_not_taken", "deal_id": outcome.deal_id})
        return  # left in the store: each action's queued message completes its own
    if not waiting:
        return
    fields = action_output_fields(outcome, None)
    for callback_id in waiting:
        try:
            _complete(ctx, outcome.portal_id, outcome.deal_id, callback_id, fields, waiter=True)
        except Exception:
            logger.exception({"event": "callback_not_completed", "callback_id": callback_id})


def complete_queued_action(ctx: Context, job: InvoiceJob, fields: Mapping[str, str]) -> None:
    """Complete the blocked workflow action a queued job carries, unless someone already did: a job whose action
    left a waiter (``job.waiter``) completes it only if it can still take it. Raises when HubSpot does not take
    the completion (the waiter is put back, so the next attempt completes it)."""
    if job.callback_id is None:
        return
    if job.waiter and not ctx.store.take_waiter(job.portal_id, job.deal_id, job.callback_id, ctx.now()):
        return
    _complete(ctx, job.portal_id, job.deal_id, job.callback_id, fields, waiter=job.waiter)


def _complete(
    ctx: Context, portal_id: int, deal_id: str, callback_id: str, fields: Mapping[str, str], *, waiter: bool
) -> None:
    """``POST /automation/v4/actions/callbacks/{callbackId}/complete`` with the output fields as text and typed
    (``typedOutputs``). A taken waiter (``waiter``) is put back if HubSpot does not take it, and its completion
    goes into the deal's history."""
    try:
        ctx.hubspot.complete_callback(callback_id, fields, typed_outputs(fields))
    except Exception:
        if waiter:
            ctx.store.add_waiter(portal_id, deal_id, callback_id, ctx.now() + WAITER_TTL)
        raise
    if waiter:
        ctx.remember(
            portal_id,
            deal_id,
            "callback_completed",
            "system",
            callback_id=callback_id,
            result=fields["result"],
        )


def _invoiced(row: LedgerRow | None, now: datetime) -> InvoiceOutcome | None:
    """The outcome of a deal whose invoice exists and is written back (no claim held), else ``None``."""
    if row is None or row.claimed(now):
        return None
    if row.state is LedgerState.CREATED:
        return InvoiceOutcome(
            Result.ALREADY_INVOICED, row.portal_id, row.deal_id, row.invoice, warnings=row.warnings
        )
    if row.state is LedgerState.CANCELLED:
        return InvoiceOutcome(Result.CANCELLED, row.portal_id, row.deal_id, row.invoice)
    return None


__all__ = ["WAITER_TTL", "complete_queued_action", "complete_waiters", "wait_for_deal"]
