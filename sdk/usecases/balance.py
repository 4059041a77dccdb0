"""What an app card on a deal or company record shows: the freee balance, read from the ledger only (issue 6).

``balance_card`` reads as the card does: find the ledger rows of the record (one for a deal, all of a company's),
work out each invoice's standing as the payment sync last wrote it, moved to ``today`` (an unpaid invoice whose
due date has passed shows as overdue even before the next sync), and, for a company, roll them up with the
same rule the sync writes to the company (:func:`sdk.payments.company_rollup`). No freee or HubSpot call is made.

A record with no invoice in the ledger is not an error: the answer says "no invoices yet".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from sdk.payments import PaymentStanding, PaymentStatus, company_rollup, standing_as_of
from sdk.store import LedgerReads, LedgerRow, LedgerState

if TYPE_CHECKING:
    from sdk.settings import Settings

ObjectType = Literal["deal", "company"]
OBJECT_TYPES: frozenset[str] = frozenset({"deal", "company"})
CANCELLED = "cancelled"
NO_INVOICES = {
    "ja": "freeeの請求書はまだありません",
    "en": "No freee invoices yet",
}


@dataclass(frozen=True, slots=True)
class CardInvoice:
    """One invoice as the card lists it."""

    deal_id: str
    row: LedgerRow
    standing: PaymentStanding

    @property
    def status(self) -> str:
        return self.standing.status.value if self.standing.status is not None else CANCELLED

    def as_dict(self) -> dict[str, Any]:
        invoice = self.row.invoice
        assert invoice is not None  # noqa: S101 - only invoiced rows become card invoices
        s = self.standing
        return {
            "dealId": self.deal_id,
            "invoiceNumber": invoice.invoice_number,
            "url": invoice.invoice_url,
            "status": self.status,
            "amountInvoiced": s.amount_total,
            "amountPaid": s.amount_paid,
            "amountOutstanding": s.amount_outstanding,
            "dueDate": s.due_date.isoformat() if s.due_date else None,
            "daysOverdue": s.days_overdue,
            "paidDate": s.paid_date.isoformat() if s.paid_date else None,
        }


def balance_card(
    store: LedgerReads,
    settings: Settings,
    *,
    portal_id: int,
    object_type: ObjectType,
    object_id: str,
    today: date,
) -> dict[str, Any]:
    """The card's data for one deal or company of ``portal_id`` on ``today`` (Asia/Tokyo)."""
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"object_type must be deal or company, not {object_type!r}")
    head: dict[str, Any] = {
        "objectType": object_type,
        "objectId": object_id,
        "portalId": portal_id,
        "asOf": today.isoformat(),
    }
    if object_type == "deal":
        row = store.get_ledger(portal_id, object_id)
        found = [_card_invoice(row, settings, today)] if row is not None and _invoiced(row) else []
        return head | _deal_answer(found)
    rows = _company_rows(store, portal_id, object_id)
    invoices = sorted((_card_invoice(r, settings, today) for r in rows), key=_overdue_first)
    return head | _company_answer(invoices, settings, today)


def _invoiced(row: LedgerRow) -> bool:
    return row.invoice is not None and row.state in (LedgerState.CREATED, LedgerState.CANCELLED)


def _company_rows(store: LedgerReads, portal_id: int, company_id: str) -> list[LedgerRow]:
    states = frozenset({LedgerState.CREATED, LedgerState.CANCELLED})
    return [
        row
        for row in store.ledger(states=states)
        if row.portal_id == portal_id and row.company_id == company_id and _invoiced(row)
    ]


def _card_invoice(row: LedgerRow, settings: Settings, today: date) -> CardInvoice:
    return CardInvoice(row.deal_id, row, standing_as_of(row, settings, today))


def _overdue_first(item: CardInvoice) -> tuple[int, int, date, str]:
    """Overdue first (the longest overdue on top), then open by due date, then paid, then cancelled."""
    s = item.standing
    rank = {PaymentStatus.OVERDUE: 0, PaymentStatus.PARTIALLY_PAID: 1, PaymentStatus.UNPAID: 1}
    group = 3 if s.status is None else rank.get(s.status, 2)
    invoice = item.row.invoice
    number = invoice.invoice_number if invoice is not None else ""
    return (group, -s.days_overdue, s.due_date or date.max, number)


def _deal_answer(found: list[CardInvoice]) -> dict[str, Any]:
    if not found:
        return {"hasInvoices": False, "message": NO_INVOICES, "invoice": None}
    return {"hasInvoices": True, "message": None, "invoice": found[0].as_dict()}


def _company_answer(invoices: list[CardInvoice], settings: Settings, today: date) -> dict[str, Any]:
    rollup = company_rollup((i.standing for i in invoices), today, settings)
    summary = {
        "outstandingTotal": rollup.outstanding_total,
        "overdueTotal": rollup.overdue_total,
        "overdueInvoiceCount": rollup.overdue_invoice_count,
        "oldestOverdueDays": rollup.oldest_overdue_days,
        "lastPaymentDate": rollup.last_payment_date.isoformat() if rollup.last_payment_date else None,
        "risk": rollup.risk.value,
    }
    return {
        "hasInvoices": bool(invoices),
        "message": None if invoices else NO_INVOICES,
        "summary": summary,
        "invoices": [_listed(i) for i in invoices],
    }


def _listed(item: CardInvoice) -> dict[str, Any]:
    full = item.as_dict()
    keys: Iterable[str] = (
        "dealId",
        "invoiceNumber",
        "url",
        "status",
        "amountOutstanding",
        "dueDate",
        "daysOverdue",
    )
    return {k: full[k] for k in keys}


def parse_object_type(raw: str | None) -> ObjectType | None:
    """``deal`` / ``company`` (any case, singular or plural), or None for anything else."""
    value = (raw or "").strip().lower()
    aliases: Mapping[str, ObjectType] = {
        "deal": "deal",
        "deals": "deal",
        "company": "company",
        "companies": "company",
    }
    return aliases.get(value)
