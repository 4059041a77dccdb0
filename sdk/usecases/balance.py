"""What an app card on a deal or company record shows: the freee balance, read from the ledger only (issue 6).

``balance_card`` reads as the card does: find the ledger rows of the record — keyed reads only, never the whole
ledger (:meth:`~sdk.store.LedgerReads.get_ledger` for a deal, and for a deal billed per period its schedule and
its periods' rows; :meth:`~sdk.store.LedgerReads.ledger_for_company` for a company) — and say what they mean for a
sales rep:

- a deal with invoices: each of them (a deal billed per period has one per period, a charge on a consolidated
  invoice counts for its share) with its period, number, link, status, amounts and due date, as the payment sync
  last wrote them moved to ``today`` (an unpaid invoice whose due date has passed shows as overdue even before the
  next sync); the deal's summary over all of them (:func:`sdk.payments.deal_standing`), the one to chase first,
  and what validation warned about it;
- a deal that cannot be invoiced (``invalid``) or whose attempt failed (``failed``): each reason, in Japanese and
  English, as the deal's ``freee_sync_error`` says it (:attr:`~sdk.store.LedgerRow.reasons`); one being invoiced
  right now says so;
- a company: the same figures the payment sync writes to the company (one rule,
  :func:`sdk.payments.company_rollups`), each of its freee invoices once (a consolidated invoice once, not again
  per charge), and its deals that cannot be invoiced with why.

No freee or HubSpot call is made. A record with no row in the ledger is not an error: "no invoices yet".
:func:`deal_invoices` is also what ``hubspot-freee invoice show`` lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sdk.billing.schedule import Plan
from sdk.billing.units import Unit
from sdk.errors import Problem
from sdk.payments import (
    CompanyRollup,
    PaymentStanding,
    PaymentStatus,
    billed_inside,
    company_rollups,
    counts_once,
    deal_of,
    deal_standing,
    invoiced,
    oldest_first,
    period_of,
    standing_as_of,
)
from sdk.store import LedgerReads, LedgerRow, LedgerState, ScheduleRow

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


class CardReads(LedgerReads, Protocol):
    """The keyed reads the card makes: ledger rows, and the schedule of a deal billed per period (which periods it
    has, and their labels)."""

    def get_schedule(self, portal_id: int, deal_id: str) -> ScheduleRow | None: ...


@dataclass(frozen=True, slots=True)
class CardInvoice:
    """One invoice as the card lists it: a deal's (``deal_id``), one period of its schedule (``period``, ``label``
    such as 「2027年1月分」), its charge on a consolidated invoice (``consolidated``), or a consolidated invoice on
    the company card (no ``deal_id``)."""

    deal_id: str | None
    row: LedgerRow
    standing: PaymentStanding
    label: str = ""

    @property
    def status(self) -> str:
        return self.standing.status.value if self.standing.status is not None else CANCELLED

    @property
    def period(self) -> int | None:
        return period_of(self.row.deal_id)

    @property
    def consolidated(self) -> bool:
        """A charge billed inside a consolidated invoice, or (on the company card) that invoice itself."""
        return billed_inside(self.row) is not None or self.deal_id is None

    def as_dict(self) -> dict[str, Any]:
        invoice = self.row.invoice
        assert invoice is not None  # noqa: S101 - only invoiced rows become card invoices
        s = self.standing
        return {
            "dealId": self.deal_id,
            "unit": self.row.deal_id,
            "period": self.period,
            "label": self.label,
            "consolidated": self.consolidated,
            "invoiceNumber": invoice.invoice_number,
            "url": invoice.invoice_url,
            "billingDate": invoice.billing_date.isoformat(),
            "status": self.status,
            "amountInvoiced": s.amount_total,
            "amountPaid": s.amount_paid,
            "amountOutstanding": s.amount_outstanding,
            "dueDate": s.due_date.isoformat() if s.due_date else None,
            "daysOverdue": s.days_overdue,
            "paidDate": s.paid_date.isoformat() if s.paid_date else None,
        }


@dataclass(frozen=True, slots=True)
class DealInvoices:
    """A deal's own ledger row (``None``: never seen) and every invoice it has, oldest first."""

    row: LedgerRow | None
    invoices: tuple[CardInvoice, ...] = ()

    @property
    def standing(self) -> PaymentStanding:
        """The deal over all its invoices, as the payment sync writes it (:func:`sdk.payments.deal_standing`)."""
        return deal_standing([i.standing for i in self.invoices])

    def to_chase(self) -> CardInvoice | None:
        """The oldest unpaid invoice (the first due), else the latest."""
        unpaid = [
            i for i in self.invoices if i.standing.status is not None and i.standing.amount_outstanding > 0
        ]
        if unpaid:
            return min(unpaid, key=lambda i: i.standing.due_date or date.max)
        return self.invoices[-1] if self.invoices else None

    def summary(self) -> dict[str, Any]:
        s = self.standing
        return {
            "status": s.status.value if s.status is not None else CANCELLED,
            "invoiceCount": sum(1 for i in self.invoices if not i.standing.cancelled),
            "amountInvoiced": s.amount_total,
            "amountPaid": s.amount_paid,
            "amountOutstanding": s.amount_outstanding,
            "dueDate": s.due_date.isoformat() if s.due_date else None,
            "daysOverdue": s.days_overdue,
            "paidDate": s.paid_date.isoformat() if s.paid_date else None,
        }


def deal_invoices(
    store: CardReads, settings: Settings, portal_id: int, deal_id: str, today: date
) -> DealInvoices:
    """The deal's row and its invoices, by keyed reads: the deal's own invoice (a deal billed once, or its charge
    on a consolidated invoice), or, for a deal billed per period, each period's (its own, or its charge on a
    consolidated invoice), labelled with the period."""
    row = store.get_ledger(portal_id, deal_id)
    if row is None:
        return DealInvoices(None)
    if invoiced(row):
        return DealInvoices(row, (_card_invoice(row, settings, today),))
    if row.state is not LedgerState.SCHEDULED:
        return DealInvoices(row)
    schedule = store.get_schedule(portal_id, deal_id)
    if schedule is None:
        return DealInvoices(row)
    plan = Plan.from_plain(schedule.plan)
    through = max(today, schedule.next_due or today)
    periods = list(plan.periods() if plan.count is not None else plan.periods(through=through))
    labels = {Unit.of_period(deal_id, p.number).key: p.label_ja for p in periods}
    found = store.get_ledgers(portal_id, list(labels))
    rows = sorted((r for r in found.values() if invoiced(r)), key=oldest_first)
    return DealInvoices(row, tuple(_card_invoice(r, settings, today, labels[r.deal_id]) for r in rows))


def balance_card(
    store: CardReads,
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
        return head | _deal_answer(deal_invoices(store, settings, portal_id, object_id, today))
    rows = store.ledger_for_company(portal_id, object_id)
    return head | _company_answer(rows, portal_id, object_id, settings, today)


def _card_invoice(row: LedgerRow, settings: Settings, today: date, label: str = "") -> CardInvoice:
    unit = Unit.from_key(row.deal_id) if deal_of(row.deal_id) is None else None
    if unit is not None and unit.window is not None:  # a consolidated invoice: its closing date
        label = f"{unit.window.year}年{unit.window.month}月{unit.window.day}日締め"
    return CardInvoice(deal_of(row.deal_id), row, standing_as_of(row, settings, today), label)


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


def _deal_answer(found: DealInvoices) -> dict[str, Any]:
    row = found.row
    warnings = _problems(row.warnings) if row is not None else []
    chase = found.to_chase()
    if row is None or chase is None:
        return {
            "hasInvoices": False,
            "state": row.state.value if row is not None else None,
            "message": _message(row),
            "reasons": _reasons(row) if row is not None else [],
            "warnings": warnings,
            "invoice": None,
            "invoices": [],
            "summary": None,
        }
    return {
        "hasInvoices": True,
        "state": row.state.value,
        "message": None,
        "reasons": [],
        "warnings": warnings,
        "invoice": chase.as_dict(),
        "invoices": [i.as_dict() for i in found.invoices],
        "summary": found.summary(),
    }


def _company_answer(
    rows: Sequence[LedgerRow], portal_id: int, company_id: str, settings: Settings, today: date
) -> dict[str, Any]:
    invoices = sorted((_card_invoice(r, settings, today) for r in rows if counts_once(r)), key=_overdue_first)
    worked_out = {(i.row.portal_id, i.row.deal_id): i.standing for i in invoices}  # each standing once
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
