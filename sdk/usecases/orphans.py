"""Orphan invoices: created in freee by an attempt that had lost its claim on the deal by the time freee answered.

The lease is renewed right before every freee write (DESIGN §3.5), so this takes a stall between that renewal and
freee's answer longer than the lease. The attempt holding the deal then invoices it (or has), and the orphan is a
second invoice for one deal. Nothing cancels it automatically: it is recorded — in the deal's history and in the
store's orphan list — and ``hubspot-freee doctor`` and ``invoice show`` tell an operator to cancel it in freee.

For the reconciliation sweep (issue 16): :func:`settle_orphans` checks every open orphan against freee and resolves
those cancelled there (or adopted as the deal's invoice); :func:`record_orphan` records one it finds.
"""

from __future__ import annotations

from typing import Protocol

from sdk.log import get_logger
from sdk.models.freee import Invoice
from sdk.store import LedgerReads, OrphanInvoice, Orphans
from sdk.usecases.context import Context


class OrphanStore(Orphans, LedgerReads, Protocol):
    """What listing open orphans needs of the store: the orphan list, and the ledger to tell an adopted one."""


def record_orphan(
    ctx: Context, portal_id: int, deal_id: str, invoice: Invoice, trigger: str
) -> OrphanInvoice:
    """Keep ``invoice`` as an orphan of the deal (once) and say so in the deal's history and the log."""
    orphan = OrphanInvoice(
        portal_id=portal_id,
        deal_id=deal_id,
        invoice_id=invoice.id,
        invoice_number=invoice.invoice_number,
        partner_id=invoice.partner_id,
        billing_date=invoice.billing_date,
        amount_total=invoice.total_amount,
        found_at=ctx.now(),
    )
    ctx.store.record_orphan(orphan)
    ctx.remember(
        portal_id,
        deal_id,
        "invoice_orphaned",
        trigger,
        invoice_id=invoice.id,
        invoice_number=invoice.invoice_number,
        total=invoice.total_amount,
    )
    get_logger().error(
        {
            "event": "invoice_orphaned",
            "deal_id": deal_id,
            "portal_id": portal_id,
            "invoice_id": invoice.id,
            "invoice_number": invoice.invoice_number,
        }
    )
    return orphan


def open_orphans(
    store: OrphanStore, portal_id: int | None = None, deal_id: str | None = None
) -> list[OrphanInvoice]:
    """Orphans still to be dealt with: not resolved, and not (since) the deal's own invoice — an attempt that took
    the deal over may have found the orphan by its marker and adopted it."""
    found = []
    for orphan in store.orphans(portal_id, deal_id):
        if orphan.resolved_at is not None:
            continue
        row = store.get_ledger(orphan.portal_id, orphan.deal_id)
        if row is not None and row.invoice is not None and row.invoice.invoice_id == orphan.invoice_id:
            continue
        found.append(orphan)
    return found


def describe(orphan: OrphanInvoice) -> str:
    """One line for people: which invoice, which deal, what to do (ja / en)."""
    return (
        f"freee請求書 {orphan.invoice_number}（ID {orphan.invoice_id}、{orphan.amount_total:,}円、請求日 "
        f"{orphan.billing_date}）は取引 {orphan.deal_id} の二重の請求書です。freeeで取り消してください。"
        f" / freee invoice {orphan.invoice_number} (id {orphan.invoice_id}, ¥{orphan.amount_total:,}, billed "
        f"{orphan.billing_date}) is a second invoice for deal {orphan.deal_id}: cancel it in freee."
    )


def settle_orphans(ctx: Context) -> list[OrphanInvoice]:
    """Resolve every open orphan that is no longer uncancelled in freee (cancelled by an operator) or that became
    the deal's own invoice; return those still open. Reads freee only (the invoices of each orphan's partner on its
    billing date, page by page)."""
    from sdk.usecases.create_invoice import marked_invoices  # here: create_invoice imports this module

    still: list[OrphanInvoice] = []
    for orphan in open_orphans(ctx.store):
        places = {(orphan.partner_id, orphan.billing_date)}
        live = {i.id for i in marked_invoices(ctx, orphan.portal_id, orphan.deal_id, places)}
        if orphan.invoice_id in live:
            still.append(orphan)
            continue
        ctx.store.resolve_orphan(orphan.portal_id, orphan.deal_id, orphan.invoice_id, ctx.now())
        ctx.remember(
            orphan.portal_id, orphan.deal_id, "orphan_resolved", "sweep", invoice_id=orphan.invoice_id
        )
    return still
