"""What an app card on a deal or company record shows: the freee balance, read from the ledger only (issue 6).

``balance_card`` reads as the card does: find the ledger rows of the record — one keyed read each, never the whole
ledger (:meth:`~sdk.store.LedgerReads.get_ledger` for a deal, :meth:`~sdk.store.LedgerReads.ledger_for_company`
for a company) — and say what they mean for a sales rep:

- a deal with an invoice: its number, link, status, amounts invoiced, paid and outstanding, due date and days
  overdue, as the payment sync last wrote them moved to ``today`` (an unpaid invoice whose due date has passed
  shows as overdue even before the next sync), and what validation warned about it;
- a deal that cannot be invoiced (``invalid``) or whose attempt failed (``failed``): each reason, in Japanese and
  English, as the deal's ``freee_sync_error`` says it (:attr:`~sdk.store.LedgerRow.reasons`); one being invoiced
  right now says so;
- a company: the same figures the payment sync writes to the company (one rule,
  :func:`sdk.payments.company_rollups`), each of its invoices, and its deals that cannot be invoiced with why.

No freee or HubSpot call is made. A record with no row in the ledger is not an error: "no invoices yet".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from sdk.errors import Problem
from sdk.payments import (
    CompanyRollup,
    PaymentStanding,
    PaymentStatus,
    company_rollups,
    invoiced,
    standing_as_of,
)
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
CANNOT_INVOICE = {
    "ja": "この取引はfreeeの請求書を作成できません。次の点を直すと、次のきっかけで作成されます。",
    "en": "This deal cannot be invoiced in freee. Fix what follows and it is invoiced on its next trigger.",
}
NOT_CREATED_YET = {
    "ja": "freeeの請求書をまだ作成できていません。",
    "en": "The freee invoice is not created yet.",
}
BEING_CREATED = {
    "ja": "freeeの請求書を作成中です。",
    "en": "The freee invoice is being created.",
}
#: what a row that failed before its reasons were kept says (the deal's freee_sync_error has the detail)
UNKNOWN_REASON = {
    LedgerState.INVALID: Problem(
        "deal.invalid",
        "deal",
        "請求書を作成できない理由は、取引の「freee連携エラー」に書かれています。",
        "Why the deal cannot be invoiced is in its freee sync error property.",
    ),
    LedgerState.FAILED: Problem(
        "invoice.failed",
        "invoice",
        "請求書の作成に失敗しました。取引の「freee連携エラー」を確認してください。",
        "Creating the invoice failed; see the deal's freee sync error property.",
    ),
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
        return head | _deal_answer(store.get_ledger(portal_id, object_id), settings, today)
    rows = store.ledger_for_company(portal_id, object_id)
    return head | _company_answer(rows, portal_id, object_id, settings, today)


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


def _problems(problems: Sequence[Problem]) -> list[dict[str, str]]:
    return [p.as_dict() for p in problems]


def _reasons(row: LedgerRow) -> list[dict[str, str]]:
    """Why a deal has no invoice: the row's reasons, or (a row kept before they were) where to read them."""
    if row.reasons:
        return _problems(row.reasons)
    unknown = UNKNOWN_REASON.get(row.state)
    return _problems([unknown]) if unknown is not None else []


def _message(row: LedgerRow | None) -> Mapping[str, str]:
    if row is None:
        return NO_INVOICES
    return {
        LedgerState.INVALID: CANNOT_INVOICE,
        LedgerState.FAILED: NOT_CREATED_YET,
        LedgerState.CREATING: BEING_CREATED,
    }.get(row.state, NO_INVOICES)


def _deal_answer(row: LedgerRow | None, settings: Settings, today: date) -> dict[str, Any]:
    warnings = _problems(row.warnings) if row is not None else []
    if row is None or not invoiced(row):
        return {
            "hasInvoices": False,
            "state": row.state.value if row is not None else None,
            "message": _message(row),
            "reasons": _reasons(row) if row is not None else [],
            "warnings": warnings,
            "invoice": None,
        }
    return {
        "hasInvoices": True,
        "state": row.state.value,
        "message": None,
        "reasons": [],
        "warnings": warnings,
        "invoice": _card_invoice(row, settings, today).as_dict(),
    }


def _company_answer(
    rows: Sequence[LedgerRow], portal_id: int, company_id: str, settings: Settings, today: date
) -> dict[str, Any]:
    invoices = sorted((_card_invoice(r, settings, today) for r in rows if invoiced(r)), key=_overdue_first)
    worked_out = {(i.row.portal_id, i.deal_id): i.standing for i in invoices}  # each standing once
    rollup = company_rollups(rows, settings, today, worked_out).get((portal_id, company_id), CompanyRollup())
    summary = {
        "outstandingTotal": rollup.outstanding_total,
        "overdueTotal": rollup.overdue_total,
        "overdueInvoiceCount": rollup.overdue_invoice_count,
        "oldestOverdueDays": rollup.oldest_overdue_days,
        "lastPaymentDate": rollup.last_payment_date.isoformat() if rollup.last_payment_date else None,
        "risk": rollup.risk.value,
    }
    blocked = [
        {"dealId": r.deal_id, "state": r.state.value, "reasons": _reasons(r)}
        for r in rows
        if r.state in (LedgerState.INVALID, LedgerState.FAILED)
    ]
    return {
        "hasInvoices": bool(invoices),
        "message": None if invoices else NO_INVOICES,
        "summary": summary,
        "invoices": [i.as_dict() for i in invoices],
        "notInvoiced": blocked,
    }


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
