"""What the "freee payment status" custom-code snippet (``workflows/custom_code/payment_status.py``) is answered by
``POST /custom-code/payment-status``: its output fields, all strings.

Read from the ledger alone, no HubSpot or freee call: the invoice the deal got, and the payment status and amount
outstanding the payment sync last wrote on the deal (before the first sync: ``unpaid``, the invoice's total).
A deal without an invoice answers ``result`` ``not_invoiced`` and empty fields; otherwise ``result`` is the
ledger's state (``created``, ``cancelled``, ...). A deal billed by schedule or consolidated invoice (``scheduled``)
answers over all its invoices, as the deal shows them: its latest invoice's number, the status, outstanding amount
and due date of its oldest unpaid one (before its first invoice: empty fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sdk.store import LedgerState

if TYPE_CHECKING:
    from sdk.settings import PropertyNames
    from sdk.store import LedgerRow, Store

NOT_INVOICED: Final = "not_invoiced"
UNPAID: Final = "unpaid"
OUTPUT_FIELDS: Final = (
    "result",
    "freee_invoice_number",
    "freee_payment_status",
    "freee_amount_outstanding",
    "freee_due_date",
)


def read_payment_status(store: Store, names: PropertyNames, portal_id: int, deal_id: str) -> dict[str, str]:
    """The output fields for the deal, from its ledger row."""
    return payment_status_output_fields(store.get_ledger(portal_id, deal_id), names)


def payment_status_output_fields(row: LedgerRow | None, names: PropertyNames) -> dict[str, str]:
    """The output fields for a ledger row (``None``: the deal was never seen)."""
    if row is not None and row.state is LedgerState.SCHEDULED:
        shown = dict(row.written)
        number = shown.get(names.deal_invoice_number, "")
        return {
            "result": row.state.value,
            "freee_invoice_number": number,
            "freee_payment_status": shown.get(names.deal_payment_status, UNPAID if number else ""),
            "freee_amount_outstanding": shown.get(
                names.deal_amount_outstanding, shown.get(names.deal_amount_invoiced, "") if number else ""
            ),
            "freee_due_date": shown.get(names.deal_due_date, ""),
        }
    if row is None or row.invoice is None:
        return dict.fromkeys(OUTPUT_FIELDS, "") | {"result": NOT_INVOICED}
    invoice, written = row.invoice, dict(row.written)
    return {
        "result": row.state.value,
        "freee_invoice_number": invoice.invoice_number,
        "freee_payment_status": written.get(names.deal_payment_status, UNPAID),
        "freee_amount_outstanding": written.get(names.deal_amount_outstanding, str(invoice.amount_total)),
        "freee_due_date": invoice.due_date.isoformat() if invoice.due_date else "",
    }


__all__ = ["NOT_INVOICED", "OUTPUT_FIELDS", "payment_status_output_fields", "read_payment_status"]
