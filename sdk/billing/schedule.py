"""A won deal's billing schedule: HubSpot's recurring line-item properties → periods → one invoice draft each.

HubSpot keeps recurring billing on each line item (``specs/hubspot/recurring-line-items.md`` records the
properties and their sources): ``recurringbillingfrequency`` (how often the line's price is charged),
``hs_recurring_billing_period`` (the term, ISO-8601 such as ``P12M``; empty = until cancelled, or
``hs_recurring_billing_number_of_payments``), and when billing starts (``hs_billing_start_delay_type`` names which
of ``hs_recurring_billing_start_date`` / ``hs_billing_start_delay_days`` / ``hs_billing_start_delay_months``
applies, counted from the deal's billing date).

:func:`plan_for_deal` turns a validated deal into a :class:`Plan`, or says every reason it cannot (problem codes
in ja + en, nothing sent): ``None`` for a deal billed once, as before schedules. The rules:

* The schedule's period is the shortest frequency among the recurring lines; every other recurring line's
  frequency must be a whole number of those periods (monthly + quarterly + annually: yes; weekly + monthly: no),
  and all recurring lines start on one date.
* Period *n* starts *n − 1* steps after the start, counted from the start's day of the month and clamped to
  shorter months (1/31 → 2/28 → 3/31: never drifting to the 28th); it ends the day before period *n + 1* starts,
  so periods tile the term with no gap or overlap.
* One-time lines are billed on the first period's invoice; a recurring line on the periods where one of its own
  cycles starts, at its price (the price per its frequency), for as many cycles as its term holds.
* Billing in advance (``billing_timing`` ``advance``, the default) bills a period on its first day, in arrears on
  its last; the due date follows the company's payment terms from the billing date.
* ``freee_billing_plan`` = *N* on the deal overrides the line items: *N* equal monthly instalments of the whole
  contract (each line's contract amount split, the rounding remainder on the first instalment).
* A fixed term has at most :data:`MAX_PERIODS` periods; an open-ended subscription extends period by period.

Tax is computed on each period's invoice (one rounding per rate per invoice, the qualified-invoice rule), so the
periods' net amounts add up to the contract exactly and their tax may differ from tax on the contract as a whole
by the rounding of each invoice.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sdk.errors import Problem, ValidationFailed
from sdk.tax import summarize
from sdk.terms import PaymentTerms, parse_hubspot_date, parse_terms
from sdk.validation import DraftLine, InvoiceDraft

if TYPE_CHECKING:
    from sdk.models.hubspot import DealBundle, LineItem
    from sdk.settings import Settings

MAX_PERIODS = 120

# HubSpot's line-item properties (specs/hubspot/recurring-line-items.md)
FREQUENCY = "recurringbillingfrequency"
TERM = "hs_recurring_billing_period"
PAYMENTS = "hs_recurring_billing_number_of_payments"
START_DATE = "hs_recurring_billing_start_date"
DELAY_TYPE = "hs_billing_start_delay_type"
DELAY_DAYS = "hs_billing_start_delay_days"
DELAY_MONTHS = "hs_billing_start_delay_months"
RECURRING_PROPERTIES = (FREQUENCY, TERM, PAYMENTS, START_DATE, DELAY_TYPE, DELAY_DAYS, DELAY_MONTHS)


class Frequency(StrEnum):
    """``recurringbillingfrequency``: HubSpot's internal values."""

    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    PER_SIX_MONTHS = "per_six_months"
    ANNUALLY = "annually"
    PER_TWO_YEARS = "per_two_years"
    PER_THREE_YEARS = "per_three_years"
    PER_FOUR_YEARS = "per_four_years"
    PER_FIVE_YEARS = "per_five_years"

    @property
    def step(self) -> Step:
        return _STEPS[self]

    @property
    def label_ja(self) -> str:
        return _LABELS_JA[self]


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One period's length: whole months, or whole weeks (never both)."""

    months: int = 0
    weeks: int = 0

    def times(self, other: Step) -> int | None:
        """How many of ``self`` make ``other`` (``None`` when not a whole number, or months against weeks)."""
        if self.months and other.months and other.months % self.months == 0:
            return other.months // self.months
        if self.weeks and other.weeks and other.weeks % self.weeks == 0:
            return other.weeks // self.weeks
        return None


_STEPS = {
    Frequency.WEEKLY: Step(weeks=1),
    Frequency.BIWEEKLY: Step(weeks=2),
    Frequency.MONTHLY: Step(months=1),
    Frequency.QUARTERLY: Step(months=3),
    Frequency.PER_SIX_MONTHS: Step(months=6),
    Frequency.ANNUALLY: Step(months=12),
    Frequency.PER_TWO_YEARS: Step(months=24),
    Frequency.PER_THREE_YEARS: Step(months=36),
    Frequency.PER_FOUR_YEARS: Step(months=48),
    Frequency.PER_FIVE_YEARS: Step(months=60),
}
_LABELS_JA = {
    Frequency.WEEKLY: "毎週",
    Frequency.BIWEEKLY: "隔週",
    Frequency.MONTHLY: "毎月",
    Frequency.QUARTERLY: "四半期ごと",
    Frequency.PER_SIX_MONTHS: "半年ごと",
    Frequency.ANNUALLY: "毎年",
    Frequency.PER_TWO_YEARS: "2年ごと",
    Frequency.PER_THREE_YEARS: "3年ごと",
    Frequency.PER_FOUR_YEARS: "4年ごと",
    Frequency.PER_FIVE_YEARS: "5年ごと",
}


class Timing(StrEnum):
    """When a period is billed (setting ``billing_timing``)."""

    ADVANCE = "advance"  # 前払い: on the period's first day
    ARREARS = "arrears"  # 後払い: on its last day


#: what ``billing_subject_pattern`` may name (:func:`period_draft` fills them in)
BILLING_SUBJECT_PLACEHOLDERS = (
    "period",
    "deal_name",
    "company_name",
    "deal_id",
    "number",
    "count",
    "start",
    "end",
)
#: what ``consolidated_subject_pattern`` may name (:func:`sdk.billing.consolidation.consolidated_draft`)
CONSOLIDATED_SUBJECT_PLACEHOLDERS = ("window", "company_name", "start", "end", "count")


class PlanKind(StrEnum):
    RECURRING = "recurring"  # the line items' own frequencies
    INSTALMENTS = "instalments"  # freee_billing_plan: N equal monthly instalments of the contract
    ONCE = "once"  # a deal billed once, as one charge of its company's consolidated invoice


@dataclass(frozen=True, slots=True)
class Cycle:
    """How one recurring line item is billed: on every ``every``-th period of the schedule, ``count`` times
    (``None``: until cancelled)."""

    line_item_id: str
    every: int
    count: int | None


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a schedule: service from ``start`` to ``end`` (both included), billed on ``billing_date``."""

    number: int
    start: date
    end: date
    billing_date: date
    due_date: date
    count: int | None = None
    """How many periods the schedule has (``None``: until cancelled)."""
    kind: PlanKind = PlanKind.RECURRING

    @property
    def label_ja(self) -> str:
        """``2027年1月分``, ``2027年1月〜3月分``, ``2027年1月15日〜2月14日分``, or ``分割 1/3回目``."""
        if self.kind is PlanKind.INSTALMENTS:
            return f"分割 {self.number}/{self.count}回目"
        if self.kind is PlanKind.ONCE:
            return ""
        return service_label_ja(self.start, self.end)

    @property
    def label_en(self) -> str:
        if self.kind is PlanKind.INSTALMENTS:
            return f"instalment {self.number} of {self.count}"
        if self.kind is PlanKind.ONCE:
            return ""
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def service_label_ja(start: date, end: date) -> str:
    """The period in the words of a Japanese invoice: whole months by month (``2027年1月分``,
    ``2026年11月〜2027年1月分``), anything else by day (``2027年1月15日〜2月14日分``)."""
    whole_months = start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]
    if whole_months:
        first = f"{start.year}年{start.month}月"
        if (start.year, start.month) == (end.year, end.month):
            return f"{first}分"
        last = f"{end.month}月" if end.year == start.year else f"{end.year}年{end.month}月"
        return f"{first}〜{last}分"
    first = f"{start.year}年{start.month}月{start.day}日"
    last = f"{end.month}月{end.day}日" if end.year == start.year else f"{end.year}年{end.month}月{end.day}日"
    return f"{first}〜{last}分"


def add_steps(start: date, step: Step, count: int) -> date:
    """``start`` moved ``count`` steps on, month steps counted from ``start``'s own day of the month and clamped
    to shorter months (1/31 + 1 month = 2/28, + 2 months = 3/31)."""
    if step.weeks:
        return start + timedelta(weeks=step.weeks * count)
    index = start.year * 12 + (start.month - 1) + step.months * count
    year, month = divmod(index, 12)
    return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class Plan:
    """A deal's schedule: ``count`` periods of ``frequency`` from ``start`` (``None``: until cancelled), billed
    ``timing``, due per ``terms``; ``cycles`` say which recurring line bills in which period (RECURRING)."""

    kind: PlanKind
    frequency: Frequency
    start: date
    count: int | None
    timing: Timing
    terms: PaymentTerms
    cycles: tuple[Cycle, ...] = ()

    def period(self, number: int) -> Period:
        if number < 1 or (self.count is not None and number > self.count):
            raise ValueError(f"period {number} is not in this schedule (1–{self.count or '…'})")
        if self.kind is PlanKind.ONCE:
            due = self.terms.due_date(self.start)
            return Period(1, self.start, self.start, self.start, due, 1, self.kind)
        step = self.frequency.step
        start = add_steps(self.start, step, number - 1)
        end = add_steps(self.start, step, number) - timedelta(days=1)
        billing = start if self.timing is Timing.ADVANCE else end
        return Period(number, start, end, billing, self.terms.due_date(billing), self.count, self.kind)

    def periods(self, through: date | None = None) -> Iterator[Period]:
        """Every period in order; for an open-ended schedule only those billed on or before ``through`` (which it
        then requires)."""
        if self.count is None and through is None:
            raise ValueError("an open-ended schedule lists its periods up to a date")
        number = 1
        while self.count is None or number <= self.count:
            period = self.period(number)
            if through is not None and self.count is None and period.billing_date > through:
                return
            yield period
            number += 1

    @classmethod
    def once(cls, draft: InvoiceDraft) -> Plan:
        """A deal billed once as a single charge (its company's consolidated invoice): one period on the deal's
        billing date with every line."""
        return cls(PlanKind.ONCE, Frequency.MONTHLY, draft.billing_date, 1, Timing.ADVANCE, draft.terms)

    def bills(self, cycle: Cycle, number: int) -> bool:
        """Whether the recurring line of ``cycle`` is charged in period ``number``."""
        if (number - 1) % cycle.every:
            return False
        return cycle.count is None or (number - 1) // cycle.every < cycle.count

    def to_plain(self) -> dict[str, Any]:
        """As the store's schedule row keeps it (``ScheduleRow.plan``)."""
        return {
            "kind": self.kind.value,
            "frequency": self.frequency.value,
            "start": self.start.isoformat(),
            "count": self.count,
            "timing": self.timing.value,
            "terms": self.terms.code,
            "cycles": [[c.line_item_id, c.every, c.count] for c in self.cycles],
        }

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any]) -> Plan:
        return cls(
            kind=PlanKind(plain["kind"]),
            frequency=Frequency(plain["frequency"]),
            start=date.fromisoformat(plain["start"]),
            count=plain["count"],
            timing=Timing(plain["timing"]),
            terms=parse_terms(plain["terms"]),
            cycles=tuple(Cycle(str(i), int(e), c) for i, e, c in plain["cycles"]),
        )


# --------------------------------------------------------------------------------------------- the deal → plan

_DURATION = re.compile(r"P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


@dataclass(frozen=True, slots=True)
class Term:
    """An ISO-8601 term (``P12M``, ``P1Y``, ``P26W``): whole months and days."""

    months: int
    days: int

    def periods(self, step: Step) -> int | None:
        """How many ``step`` periods the term holds exactly (``None`` when not a whole number)."""
        if step.months and not self.days and self.months % step.months == 0:
            return self.months // step.months
        if step.weeks and not self.months and self.days % (7 * step.weeks) == 0:
            return self.days // (7 * step.weeks)
        return None


def parse_term(text: str) -> Term | None:
    """``P12M`` → 12 months; ``P1Y6M``, ``P2W``, ``P14D`` likewise (full-width digits too); ``None`` when the text
    is not an ISO-8601 date duration (no time part: HubSpot's terms are dates)."""
    match = _DURATION.fullmatch(unicodedata.normalize("NFKC", text).strip().upper())
    if match is None:
        return None
    years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
    term = Term(years * 12 + months, weeks * 7 + days)
    return term if term.months or term.days else None


@dataclass(frozen=True, slots=True)
class _Recurring:
    item_id: str
    name: str
    frequency: Frequency
    count: int | None
    start: date


class _Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, code: str, field: str, ja: str, en: str) -> None:
        self.found.append(Problem(code, field, ja, en))


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def _whole(problems: _Problems, raw: str, field: str, label: str, what: tuple[str, str]) -> int | None:
    """A non-negative whole number typed in a property, or a problem."""
    text = unicodedata.normalize("NFKC", raw).strip()
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal("NaN")
    if value.is_nan() or value != value.to_integral_value() or not value.is_finite():
        problems.add(
            "line_item.delay_invalid",
            field,
            f"明細「{label}」の{what[0]}「{_shown(raw)}」は0以上の整数にしてください。",
            f"The {what[1]} '{_shown(raw)}' of line item '{label}' must be a whole number of 0 or more.",
        )
        return None
    if value < 0:
        problems.add(
            "line_item.delay_negative",
            field,
            f"明細「{label}」の{what[0]}がマイナスです（{_shown(raw)}）。0以上にしてください。",
            f"The {what[1]} of line item '{label}' is negative ({_shown(raw)}); use 0 or more.",
        )
        return None
    return int(value)


def _start(problems: _Problems, item: LineItem, label: str, where: str, base: date) -> date | None:
    """When the line's billing starts: the date, or the deal's billing date plus the delay
    ``hs_billing_start_delay_type`` names. With the type empty a start date still counts (the line items API sets
    it alone), a delay does not (specs/hubspot/recurring-line-items.md: the type says which sibling counts)."""
    kind = (item.prop(DELAY_TYPE) or "").strip()
    chosen = kind or (START_DATE if item.prop(START_DATE) else "")
    if chosen == "":
        return base
    if chosen not in (START_DATE, DELAY_DAYS, DELAY_MONTHS):
        problems.add(
            "line_item.delay_invalid",
            f"{where}.{DELAY_TYPE}",
            f"明細「{label}」の請求開始の種類「{_shown(kind)}」が分かりません。",
            f"Line item '{label}': the billing start type '{_shown(kind)}' is unknown.",
        )
        return None
    raw = item.prop(chosen)
    if raw is None:
        problems.add(
            "line_item.delay_invalid",
            f"{where}.{chosen}",
            f"明細「{label}」の請求開始が「{chosen}」を指していますが、その値が空です。",
            f"Line item '{label}': billing starts by {chosen}, which is empty.",
        )
        return None
    if chosen == START_DATE:
        try:
            return parse_hubspot_date(raw)
        except (ValueError, OverflowError, OSError):
            problems.add(
                "line_item.start_date_invalid",
                f"{where}.{START_DATE}",
                f"明細「{label}」の請求開始日「{_shown(raw)}」を日付として解釈できません。",
                f"The billing start date '{_shown(raw)}' of line item '{label}' is not a date.",
            )
            return None
    what = (
        ("開始までの日数", "billing start delay in days")
        if chosen == DELAY_DAYS
        else ("開始までの月数", "billing start delay in months")
    )
    delay = _whole(problems, raw, f"{where}.{chosen}", label, what)
    if delay is None:
        return None
    try:
        if chosen == DELAY_DAYS:
            return base + timedelta(days=delay)
        return add_steps(base, Step(months=1), delay)
    except (ValueError, OverflowError):
        problems.add(
            "line_item.delay_invalid",
            f"{where}.{chosen}",
            f"明細「{label}」の開始までの期間（{_shown(raw)}）が長すぎます。",
            f"The billing start delay ({_shown(raw)}) of line item '{label}' is too long.",
        )
        return None


def _recurring(problems: _Problems, item: LineItem, index: int, base: date) -> _Recurring | None:
    raw = (item.prop(FREQUENCY) or "").strip()
    label = _shown(item.name or item.id)
    where = f"line_items[{index}]"
    try:
        frequency = Frequency(raw)
    except ValueError:
        known = ", ".join(f.value for f in Frequency)
        problems.add(
            "line_item.frequency_unknown",
            f"{where}.{FREQUENCY}",
            f"明細「{label}」の請求頻度「{_shown(raw)}」は使えません。使える値: {known}",
            f"Line item '{label}': the billing frequency '{_shown(raw)}' is unknown; use one of {known}.",
        )
        return None
    before = len(problems.found)
    count = _count(problems, item, frequency, label, where)
    start = _start(problems, item, label, where, base)
    if start is None or len(problems.found) > before:
        return None
    return _Recurring(item.id, item.name or item.id, frequency, count, start)


def _count(problems: _Problems, item: LineItem, frequency: Frequency, label: str, where: str) -> int | None:
    """The line's number of cycles from its term (or number of payments); ``None`` until cancelled (or after a
    problem, which the caller sees among ``problems``)."""
    raw_term = (item.prop(TERM) or "").strip()
    raw_payments = (item.prop(PAYMENTS) or "").strip()
    count: int | None = None
    if raw_term:
        term = parse_term(raw_term)
        if term is None:
            problems.add(
                "line_item.term_invalid",
                f"{where}.{TERM}",
                f"明細「{label}」の契約期間「{_shown(raw_term)}」はISO 8601の期間（例: P12M = 12か月、P1Y = 1年）ではありません。",
                f"Line item '{label}': the term '{_shown(raw_term)}' is not an ISO-8601 duration (e.g. P12M = 12 months, P1Y = 1 year).",
            )
            return None
        count = term.periods(frequency.step)
        if count is None:
            problems.add(
                "line_item.term_not_multiple",
                f"{where}.{TERM}",
                f"明細「{label}」の契約期間 {_shown(raw_term)} は請求頻度（{frequency.label_ja}）の整数倍ではありません。",
                f"Line item '{label}': the term {_shown(raw_term)} is not a whole number of {frequency.value} periods.",
            )
            return None
    if raw_payments:
        payments = _whole(
            problems, raw_payments, f"{where}.{PAYMENTS}", label, ("支払回数", "number of payments")
        )
        if payments is None:
            return None
        if count is not None and payments != count:
            problems.add(
                "line_item.term_mismatch",
                f"{where}.{PAYMENTS}",
                f"明細「{label}」の支払回数（{payments}回）が契約期間 {_shown(raw_term)}（{count}回）と一致しません。",
                f"Line item '{label}': {payments} payments do not match the term {_shown(raw_term)} ({count} periods).",
            )
            return None
        count = payments if payments > 0 else count
    return count


def plan_for_deal(bundle: DealBundle, draft: InvoiceDraft, settings: Settings) -> Plan | None:
    """The deal's schedule, or ``None`` for a deal billed once (no recurring line, no instalments); raises
    :class:`~sdk.errors.ValidationFailed` with every reason the schedule cannot be made."""
    problems = _Problems()
    base = draft.billing_date
    by_id = {item.id: (index, item) for index, item in enumerate(bundle.line_items)}
    recurring = [
        found
        for index, item in by_id.values()
        if (item.prop(FREQUENCY) or "").strip()
        if (found := _recurring(problems, item, index, base)) is not None
    ]
    instalments = _instalments(problems, bundle, settings)
    if problems.found:
        raise ValidationFailed(tuple(problems.found), draft.warnings)
    timing = settings.billing_timing
    if instalments is not None:
        return _instalment_plan(problems, draft, recurring, instalments, timing)
    if not recurring:
        return None
    return _recurring_plan(problems, draft, recurring, timing)


def _instalments(problems: _Problems, bundle: DealBundle, settings: Settings) -> int | None:
    name = settings.properties.deal_billing_plan
    raw = (bundle.deal.prop(name) or "").strip()
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw)
    if not text.isdigit() or not 1 <= int(text) <= MAX_PERIODS:
        problems.add(
            "deal.billing_plan_invalid",
            name,
            f"分割回数「{_shown(raw)}」は1〜{MAX_PERIODS}の整数にしてください（空欄なら明細の請求頻度に従います）。",
            f"The number of instalments '{_shown(raw)}' must be a whole number from 1 to {MAX_PERIODS} (empty: follow the line items).",
        )
        return None
    return int(text) if int(text) > 1 else None


def _recurring_plan(
    problems: _Problems, draft: InvoiceDraft, recurring: list[_Recurring], timing: Timing
) -> Plan:
    shortest = min(recurring, key=lambda r: r.frequency.step.weeks * 7 or r.frequency.step.months * 28)
    base = shortest.frequency
    cycles: list[Cycle] = []
    lengths: list[int | None] = []
    for line in recurring:
        every = base.step.times(line.frequency.step)
        if every is None:
            problems.add(
                "schedule.frequencies_mixed",
                FREQUENCY,
                f"明細「{_shown(line.name)}」の請求頻度（{line.frequency.label_ja}）が「{_shown(shortest.name)}」（{base.label_ja}）の整数倍ではないため、1つの請求スケジュールにできません。取引を分けてください。",
                f"Line item '{_shown(line.name)}' ({line.frequency.value}) is not a whole number of '{_shown(shortest.name)}' periods ({base.value}), so they cannot share one schedule; split the deal.",
            )
            continue
        if line.start != shortest.start:
            problems.add(
                "schedule.start_dates_differ",
                START_DATE,
                f"明細「{_shown(line.name)}」の請求開始日（{line.start.isoformat()}）が「{_shown(shortest.name)}」（{shortest.start.isoformat()}）と異なります。1つの取引の定期明細は同じ日に開始してください。",
                f"Line item '{_shown(line.name)}' starts billing on {line.start.isoformat()}, '{_shown(shortest.name)}' on {shortest.start.isoformat()}; the recurring lines of one deal must start together.",
            )
            continue
        cycles.append(Cycle(line.item_id, every, line.count))
        lengths.append(None if line.count is None else line.count * every)
    count = None if None in lengths or not lengths else max(n for n in lengths if n is not None)
    _check_length(problems, count)
    if problems.found:
        raise ValidationFailed(tuple(problems.found), draft.warnings)
    return Plan(PlanKind.RECURRING, base, shortest.start, count, timing, draft.terms, tuple(cycles))


def _instalment_plan(
    problems: _Problems, draft: InvoiceDraft, recurring: list[_Recurring], count: int, timing: Timing
) -> Plan:
    open_ended = [r for r in recurring if r.count is None]
    for line in open_ended:
        problems.add(
            "deal.billing_plan_open_ended",
            FREQUENCY,
            f"明細「{_shown(line.name)}」は期間の定めのない定期請求のため、分割回数を指定できません。契約期間を入れるか、分割回数を空にしてください。",
            f"Line item '{_shown(line.name)}' recurs until cancelled, so the deal cannot be split into instalments; give it a term or empty the number of instalments.",
        )
    start = min((r.start for r in recurring), default=draft.billing_date)
    cycles = tuple(
        Cycle(r.item_id, 1, r.count) for r in recurring
    )  # each recurring line's contract = price × count
    if problems.found:
        raise ValidationFailed(tuple(problems.found), draft.warnings)
    return Plan(PlanKind.INSTALMENTS, Frequency.MONTHLY, start, count, timing, draft.terms, cycles)


def _check_length(problems: _Problems, count: int | None) -> None:
    if count is not None and count > MAX_PERIODS:
        problems.add(
            "schedule.too_many_periods",
            TERM,
            f"請求スケジュールが{count}回になります。上限は{MAX_PERIODS}回です。契約期間か請求頻度を見直してください。",
            f"The schedule would have {count} periods; at most {MAX_PERIODS} are allowed. Check the term or the frequency.",
        )


# ------------------------------------------------------------------------------------------- plan → drafts


def period_lines(draft: InvoiceDraft, plan: Plan, number: int) -> tuple[DraftLine, ...]:
    """The lines of period ``number``'s invoice, from the deal's lines as validated (``draft.lines``)."""
    if plan.kind is PlanKind.ONCE:
        return draft.lines if number == 1 else ()
    cycles = {c.line_item_id: c for c in plan.cycles}
    if plan.kind is PlanKind.INSTALMENTS:
        return tuple(
            shared
            for line in draft.lines
            if (shared := _instalment_share(line, cycles.get(line.line_item_id or ""), plan, number))
            is not None
        )
    chosen: list[DraftLine] = []
    for line in draft.lines:
        cycle = cycles.get(line.line_item_id or "")
        if cycle is None:
            if number == 1:
                chosen.append(line)  # one-time lines: the first period's invoice
        elif plan.bills(cycle, number):
            chosen.append(line)
    return tuple(chosen)


def _instalment_share(line: DraftLine, cycle: Cycle | None, plan: Plan, number: int) -> DraftLine | None:
    """Instalment ``number``'s share of a line's contract amount (its amount, times its cycles when recurring):
    equal shares in whole yen, the remainder on the first."""
    assert plan.count is not None  # noqa: S101 - instalments are a fixed number
    contract = line.amount * (cycle.count if cycle is not None and cycle.count else 1)
    share, remainder = divmod(abs(contract), plan.count)
    amount = (share + (remainder if number == 1 else 0)) * (1 if contract >= 0 else -1)
    if amount == 0:
        return None
    description = f"{line.description}（分割 {number}/{plan.count}）"
    return replace(
        line, description=description[:255], quantity=Decimal(1), unit_price=Decimal(amount), amount=amount
    )


def period_draft(draft: InvoiceDraft, plan: Plan, number: int, settings: Settings) -> InvoiceDraft:
    """Period ``number``'s invoice: its lines, tax per rate on this invoice, the subject with the period
    (setting ``billing_subject_pattern``), billing and due dates. The marker names the period."""
    period = plan.period(number)
    lines = period_lines(draft, plan, number)
    tax = summarize(
        ((line.rate, line.amount) for line in lines), settings.tax.entry_method, settings.tax.rounding
    )
    subject = settings.billing_subject_pattern.format(  # the placeholders of BILLING_SUBJECT_PLACEHOLDERS
        period=period.label_ja,
        deal_name=draft.deal_name,
        company_name=draft.company_name,
        deal_id=draft.deal_id,
        number=number,
        count=plan.count if plan.count is not None else "",
        start=period.start.isoformat(),
        end=period.end.isoformat(),
    ).strip()[:255]
    return replace(
        draft,
        lines=lines,
        tax=tax,
        subject=subject or draft.subject,
        billing_date=period.billing_date,
        due_date=period.due_date,
        period=number,
        warnings=tuple(w for w in draft.warnings if w.code != "deal.amount_mismatch"),
    )
