"""Month-end consolidated invoices (月締め合算請求): every charge of a company in one closing window → one invoice.

A company whose ``freee_billing_mode`` is ``consolidated`` is billed once per closing window (``freee_closing_day``:
末日 or the 5th/10th/15th/20th/25th): every period of its deals' schedules, and every deal it won once, whose billing
date falls in the window becomes lines on ONE invoice, issued on the closing date and due by the company's payment
terms. Pure: no I/O.

* :func:`company_billing` reads the company's mode, closing day and terms (problems in ja + en: a consolidated
  company needs its own payment terms);
* :func:`window_of` is the closing window a day falls in;
* :func:`consolidated_draft` builds the invoice: a heading line per deal and period, then its lines; tax per rate
  over the whole invoice, rounded once (the qualified-invoice rule);
* :func:`charge_amounts` says what each charge contributes to the total (its net plus its share of each rate's
  tax, the rounding remainder spread so the shares add up to the invoice exactly);
* :func:`allocate` spreads a payment over the charges, oldest period first (README: "payments on a consolidated
  invoice").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sdk.billing.schedule import service_label_ja
from sdk.billing.units import Unit
from sdk.errors import Problem
from sdk.tax import RATE_ORDER, TaxRate, TaxSummary, summarize
from sdk.terms import MONTH_END, PaymentTerms, TermsError, parse_terms
from sdk.validation import DraftLine, InvoiceDraft

if TYPE_CHECKING:
    from sdk.models.hubspot import Company
    from sdk.settings import Settings

#: ``freee_closing_day``'s values: month end, or these days of the month
CLOSING_DAYS: tuple[str, ...] = ("month_end", "5", "10", "15", "20", "25")


class BillingMode(StrEnum):
    PER_DEAL = "per_deal"  # 取引ごと: an invoice per deal (or per period of its schedule)
    CONSOLIDATED = "consolidated"  # 月締め合算: one invoice per company and closing window


@dataclass(frozen=True, slots=True)
class CompanyBilling:
    """How a company is billed: ``mode``, the ``closing_day`` of its windows (1–28 or :data:`MONTH_END`), its
    payment terms."""

    mode: BillingMode
    closing_day: int = MONTH_END
    terms: PaymentTerms | None = None

    @property
    def consolidated(self) -> bool:
        return self.mode is BillingMode.CONSOLIDATED


def company_billing(company: Company, settings: Settings) -> tuple[CompanyBilling, tuple[Problem, ...]]:
    """The company's billing mode, closing day and terms, and every problem with them (nothing is billed while
    there is one)."""
    names = settings.properties
    problems: list[Problem] = []
    raw_mode = (company.prop(names.company_billing_mode) or "").strip()
    try:
        mode = BillingMode(raw_mode) if raw_mode else BillingMode.PER_DEAL
    except ValueError:
        problems.append(
            Problem(
                "company.billing_mode_invalid",
                names.company_billing_mode,
                f"会社の請求方法「{raw_mode[:40]}」が分かりません（per_deal か consolidated）。",
                f"The company's billing mode '{raw_mode[:40]}' is unknown (per_deal or consolidated).",
            )
        )
        mode = BillingMode.PER_DEAL
    raw_day = unicodedata.normalize("NFKC", company.prop(names.company_closing_day) or "").strip()
    closing = MONTH_END
    if raw_day and raw_day not in ("month_end", "末日", "末"):
        day = raw_day.removesuffix("日締め").removesuffix("日")
        if day not in CLOSING_DAYS:
            problems.append(
                Problem(
                    "company.closing_day_invalid",
                    names.company_closing_day,
                    f"会社の締め日「{raw_day[:40]}」は使えません。末日・5日・10日・15日・20日・25日のいずれかにしてください。",
                    f"The company's closing day '{raw_day[:40]}' is not one of month end, 5, 10, 15, 20, 25.",
                )
            )
        else:
            closing = int(day)
    terms: PaymentTerms | None = None
    raw_terms = (company.prop(names.company_payment_terms) or "").strip()
    if raw_terms:
        try:
            terms = parse_terms(raw_terms)
        except TermsError:
            terms = None  # validate_deal says why (company.payment_terms_invalid)
    elif mode is BillingMode.CONSOLIDATED:
        problems.append(
            Problem(
                "company.consolidated_without_terms",
                names.company_payment_terms,
                "月締め合算請求の会社には支払条件（freee_payment_terms）を設定してください。合算請求書の支払期日に使います。",
                "A company billed by consolidated invoice needs its payment terms (freee_payment_terms): they set the"
                " consolidated invoice's due date.",
            )
        )
    return CompanyBilling(mode, closing, terms), tuple(problems)


# ---------------------------------------------------------------------------------------------- windows


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A closing window: ``start`` to ``end`` (the closing date), both included."""

    start: date
    end: date

    @property
    def label_ja(self) -> str:
        return service_label_ja(self.start, self.end)

    def following(self, closing_day: int) -> Window:
        return window_of(self.end + timedelta(days=1), closing_day)


def window_of(day: date, closing_day: int) -> Window:
    """The closing window ``day`` falls in: from the day after the previous closing date to the next closing date
    on or after ``day`` (末日締め: the calendar month)."""
    closing = PaymentTerms.closing(closing_day)
    end = closing.closing_date(day)
    previous_month_last = end.replace(day=1) - timedelta(days=1)
    start = closing.closing_date(previous_month_last.replace(day=1)) + timedelta(days=1)
    if start > day:  # a closing day later than the previous month's length (never for 5–25 or month end)
        start = previous_month_last + timedelta(days=1)
    return Window(start, end)


# ---------------------------------------------------------------------------------------------- charges


@dataclass(frozen=True, slots=True)
class Charge:
    """One deal's share of a window: a period of its schedule, or the whole deal billed once (``unit``), with the
    lines that period bills and the day it would have been billed alone."""

    unit: Unit
    deal_name: str
    label: str
    billing_date: date
    lines: tuple[DraftLine, ...]

    @property
    def key(self) -> str:
        return self.unit.key

    @property
    def order(self) -> tuple[date, int, int]:
        """Oldest first: by billing date, then deal, then period (payments are allocated in this order)."""
        return (self.billing_date, int(self.unit.deal_id or 0), self.unit.period or 0)


HEADING_LIMIT = 255


def _heading(charge: Charge) -> DraftLine:
    text = f"【{charge.deal_name}{' ' + charge.label if charge.label else ''}】"
    if len(text) > HEADING_LIMIT:
        text = text[: HEADING_LIMIT - 2] + "…】"
    return DraftLine(text, Decimal(0), Decimal(0), 0, TaxRate.STANDARD_10, "text", None)


def invoice_lines(charges: Sequence[Charge]) -> tuple[DraftLine, ...]:
    """Lines grouped per deal and period, oldest first: a heading (text line) and then that charge's lines."""
    out: list[DraftLine] = []
    for charge in sorted(charges, key=lambda c: c.order):
        out.append(_heading(charge))
        out.extend(charge.lines)
    return tuple(out)


def tax_of(lines: Iterable[DraftLine], settings: Settings) -> TaxSummary:
    """Tax per rate over every item line of the invoice, rounded once per rate."""
    return summarize(
        ((line.rate, line.amount) for line in lines if line.kind != "text"),
        settings.tax.entry_method,
        settings.tax.rounding,
    )


def consolidated_draft(
    template: InvoiceDraft,
    company_id: str,
    company_name: str,
    window: Window,
    terms: PaymentTerms,
    charges: Sequence[Charge],
    settings: Settings,
) -> InvoiceDraft:
    """The company's one invoice for ``window``: issued on the closing date, due by ``terms``, its subject
    ``settings.consolidated_subject_pattern``. ``template`` (one of the charges' deal drafts) gives the company's
    registration number and contact."""
    lines = invoice_lines(charges)
    subject = settings.consolidated_subject_pattern.format(
        window=window.label_ja,
        company_name=company_name,
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        count=len(charges),
    ).strip()[:255]
    return InvoiceDraft(
        portal_id=template.portal_id,
        deal_id=template.deal_id,
        deal_name=template.deal_name,
        hubspot_company_id=company_id,
        company_name=company_name,
        subject=subject or f"{window.label_ja} ご請求",
        billing_date=window.end,
        due_date=terms.due_date(window.end),
        terms=terms,
        lines=lines,
        tax=tax_of(lines, settings),
        registration_number=template.registration_number,
        contact_name=template.contact_name,
        contact_email=template.contact_email,
        warnings=tuple(w for w in template.warnings if w.code != "deal.amount_mismatch"),
        billing_unit=Unit.consolidated(company_id, window.end),
    )


def charge_amounts(charges: Sequence[Charge], tax: TaxSummary) -> dict[str, int]:
    """What each charge contributes to the invoice total, by unit key: its lines' net (or gross, tax-inclusive)
    plus its share of each rate's tax in proportion to its net at that rate; each rate's rounding remainder goes
    to the charges with the largest fractions (ties: oldest first), so the shares add up to the total exactly."""
    ordered = sorted(charges, key=lambda c: c.order)
    amounts = {c.key: 0 for c in ordered}
    for rate in RATE_ORDER:
        total = tax.for_rate(rate)
        if total is None:
            continue
        parts = [
            (c.key, sum(line.amount for line in c.lines if line.rate is rate and line.kind != "text"))
            for c in ordered
        ]
        base = sum(amount for _, amount in parts)
        for key, amount in parts:
            amounts[key] += amount
        extra = (
            total.gross - base
        )  # the tax added on top (tax-exclusive); 0 when the lines already include it
        if extra == 0 or base == 0:
            continue
        shares = [(key, amount * extra // base, amount * extra % base) for key, amount in parts]
        given = sum(share for _, share, _ in shares)
        ranked = sorted(range(len(shares)), key=lambda i: -shares[i][2])
        bonus = set(ranked[: extra - given])
        for index, (key, share, _) in enumerate(shares):
            amounts[key] += share + (1 if index in bonus else 0)
    return amounts


@dataclass(frozen=True, slots=True)
class Allocation:
    """A payment spread over a consolidated invoice's charges, oldest period first."""

    paid: dict[str, int] = field(default_factory=dict)

    def outstanding(self, amounts: dict[str, int]) -> dict[str, int]:
        return {key: amount - self.paid.get(key, 0) for key, amount in amounts.items()}


def allocate(amounts: Sequence[tuple[str, int]], paid: int) -> Allocation:
    """``paid`` yen spread over the charges (``(key, amount)``, oldest first): each is paid in full before the
    next gets anything; never more than a charge's amount, never below zero."""
    left = max(paid, 0)
    out: dict[str, int] = {}
    for key, amount in amounts:
        share = min(left, max(amount, 0))
        out[key] = share
        left -= share
    return Allocation(out)
