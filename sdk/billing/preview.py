"""What ``hubspot-freee preview`` shows of a deal's billing before anything is sent: every period of its schedule
as the invoice it would become, and, for a company billed by month-end consolidated invoice (合算請求), the
closing window each charge falls in. Pure: no I/O.

:func:`preview_schedule` takes a deal that passed :func:`~sdk.validation.validate_deal` and answers with a
:class:`SchedulePreview`, or raises :class:`~sdk.errors.ValidationFailed` with every reason its schedule or its
company's billing cannot be made (the problems of :func:`~sdk.billing.schedule.plan_for_deal` and
:func:`~sdk.billing.consolidation.company_billing`, ja + en):

* a fixed term lists every period (at most :data:`~sdk.billing.schedule.MAX_PERIODS`), so its totals are the
  contract's; an open-ended subscription lists its first ``limit`` periods (:data:`PREVIEW_PERIODS`) and says it
  continues until cancelled;
* each period's figures are those of its own invoice (:func:`~sdk.billing.schedule.period_draft`: tax per rate on
  that invoice);
* a consolidated company's charges (each period, or the deal billed once) are placed in the closing window their
  billing date falls in (:func:`~sdk.billing.consolidation.window_of`): the consolidated invoice is issued on the
  closing date and due by the company's terms. On that invoice tax is rounded once per rate over every charge of
  the window, so a charge's tax there may differ from its own invoice's by the rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sdk.billing.consolidation import BillingMode, CompanyBilling, Window, company_billing, window_of
from sdk.billing.schedule import Plan, period_draft, plan_for_deal
from sdk.errors import Problem, ValidationFailed
from sdk.terms import MONTH_END

if TYPE_CHECKING:
    from sdk.models.hubspot import DealBundle
    from sdk.settings import Settings
    from sdk.terms import PaymentTerms
    from sdk.validation import InvoiceDraft

PREVIEW_PERIODS = 12
"""How many periods of an open-ended subscription a preview lists."""


@dataclass(frozen=True, slots=True)
class Closing:
    """Where a charge goes on its company's consolidated invoice: the closing ``window`` its billing date falls in,
    issued on the closing date (``window.end``) and due on ``due_date`` (the company's terms)."""

    window: Window
    due_date: date

    @property
    def closing_date(self) -> date:
        return self.window.end

    def as_dict(self) -> dict[str, object]:
        return {
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "window_label": self.window.label_ja,
            "closing_date": self.closing_date.isoformat(),
            "due_date": self.due_date.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PeriodPreview:
    """One period of the schedule as the invoice it would become."""

    number: int
    start: date
    end: date
    label_ja: str
    label_en: str
    billing_date: date
    due_date: date
    subject: str
    lines: int
    """How many lines the period's invoice has (0: nothing is charged in this period, no invoice)."""
    net: int
    tax: int
    total: int
    closing: Closing | None = None
    """The consolidated invoice it goes on (``None``: the company is billed per deal)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.number,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label_ja,
            "label_en": self.label_en,
            "billing_date": self.billing_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "subject": self.subject,
            "lines": self.lines,
            "net": self.net,
            "tax": self.tax,
            "total": self.total,
            "consolidated": self.closing.as_dict() if self.closing is not None else None,
        }


@dataclass(frozen=True, slots=True)
class SchedulePreview:
    """A deal's billing as the preview shows it: its ``plan`` (``None``: billed once) with the ``periods`` listed,
    and how its company is billed (``billing``; ``closing``: the window of a deal billed once, when consolidated).
    ``billing_dict`` names the closing day as the ``freee_closing_day`` property does (``month_end``, ``20``)."""

    plan: Plan | None
    periods: tuple[PeriodPreview, ...]
    billing: CompanyBilling
    closing: Closing | None = None

    @property
    def continues(self) -> bool:
        """An open-ended subscription: more periods follow those listed, until cancelled."""
        return self.plan is not None and self.plan.count is None

    @property
    def net(self) -> int:
        return sum(p.net for p in self.periods)

    @property
    def tax(self) -> int:
        return sum(p.tax for p in self.periods)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.periods)

    def plan_dict(self) -> dict[str, object] | None:
        """The plan and the totals of the periods listed (a fixed term's: the contract's)."""
        plan = self.plan
        if plan is None:
            return None
        return {
            "kind": plan.kind.value,
            "frequency": plan.frequency.value,
            "frequency_ja": plan.frequency.label_ja,
            "start": plan.start.isoformat(),
            "count": plan.count,
            "timing": plan.timing.value,
            "listed": len(self.periods),
            "continues": self.continues,
            "net": self.net,
            "tax": self.tax,
            "total": self.total,
        }

    def billing_dict(self) -> dict[str, object]:
        return {
            "mode": self.billing.mode.value,
            "closing_day": "month_end"
            if self.billing.closing_day == MONTH_END
            else str(self.billing.closing_day),
            "consolidated": self.closing.as_dict() if self.closing is not None else None,
        }


def preview_schedule(
    bundle: DealBundle, draft: InvoiceDraft, settings: Settings, limit: int = PREVIEW_PERIODS
) -> SchedulePreview:
    """The deal's schedule, period by period (an open-ended one: its first ``limit`` periods), and where its
    charges go when its company is billed by consolidated invoice; raises
    :class:`~sdk.errors.ValidationFailed` with every problem of the schedule and of the company's billing."""
    if limit < 1:
        raise ValueError("a preview lists at least one period")
    billing = CompanyBilling(BillingMode.PER_DEAL)
    company_problems: tuple[Problem, ...] = ()
    if bundle.company is not None:
        billing, company_problems = company_billing(bundle.company, settings)
    try:
        plan = plan_for_deal(bundle, draft, settings)
    except ValidationFailed as failure:
        raise ValidationFailed((*failure.problems, *company_problems), draft.warnings) from None
    if company_problems:
        raise ValidationFailed(company_problems, draft.warnings)
    terms = billing.terms or draft.terms
    if plan is None:
        return SchedulePreview(None, (), billing, _closing(billing, terms, draft.billing_date))
    periods = tuple(
        _period(draft, plan, number, settings, billing, terms)
        for number in range(1, (plan.count if plan.count is not None else limit) + 1)
    )
    return SchedulePreview(plan, periods, billing)


def _closing(billing: CompanyBilling, terms: PaymentTerms, day: date) -> Closing | None:
    if not billing.consolidated:
        return None
    window = window_of(day, billing.closing_day)
    return Closing(window, terms.due_date(window.end))


def _period(
    draft: InvoiceDraft,
    plan: Plan,
    number: int,
    settings: Settings,
    billing: CompanyBilling,
    terms: PaymentTerms,
) -> PeriodPreview:
    period = plan.period(number)
    invoice = period_draft(draft, plan, number, settings)
    return PeriodPreview(
        number=number,
        start=period.start,
        end=period.end,
        label_ja=period.label_ja,
        label_en=period.label_en,
        billing_date=period.billing_date,
        due_date=period.due_date,
        subject=invoice.subject,
        lines=len(invoice.lines),
        net=invoice.tax.net,
        tax=invoice.tax.tax,
        total=invoice.tax.gross,
        closing=_closing(billing, terms, period.billing_date) if invoice.lines else None,
    )


def first_invoice(preview: SchedulePreview, draft: InvoiceDraft, settings: Settings) -> InvoiceDraft | None:
    """The invoice winning the deal sends at once: the deal's own (billed once), its first period's (a schedule),
    or none (a consolidated company's charges wait for its closing date)."""
    if preview.billing.consolidated:
        return None
    if preview.plan is None:
        return draft
    return period_draft(draft, preview.plan, 1, settings)
