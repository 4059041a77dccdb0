"""The chaos storm's recurring profile (issue 17): subscriptions, instalments and consolidated companies billed day
by day over months of the sandbox clock, through the storm's own stand (:class:`tests.chaos.harness.Stand`: the
loop on loopback, the workers that die and are replaced, the faults on both services, the store that goes away
once). Its outcome is checked by :func:`tests.chaos.model.check_recurring`.

The scenario: per-deal subscriptions (monthly, quarterly, annual; fixed terms and open-ended; a delayed start;
instalments by the deal's ``freee_billing_plan``) across companies billed per deal, and consolidated companies
(``freee_billing_mode=consolidated``, closing at month end or on the 20th, ``month_end_next_month_end``), each
with several deals: subscriptions, instalments and one-off deals. Deals are won on days spread over the run (a
fifth on its first day); a share is won late, its close date weeks before the win (a subscription catches up on
its periods at once; a one-off deal of a consolidated company goes to the next window when its own was already
invoiced).

Each day of the run, the clock jumps to 09:00 in Tokyo (the night passes at once: leases, visibility time-outs and
freee's access tokens expire), the day's deals are won (HubSpot delivers the webhooks, some batches twice or more),
the daily pass queues every deal due (:func:`sdk.usecases.billing.queue_due`; on some days twice, as EventBridge
may), and on some days (every closing date among them) an operator also runs ``billing run``
(:func:`sdk.usecases.billing.run_billing`) beside the workers, and may be killed in the middle too. The day ends
when the queue is drained and its dead letters redriven. After the last day, faults off, the dead letters are
redriven once more and every invoice, ledger row and deal is compared with what the contracts say.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sdk.clock import ScaledClock
from sdk.terms import tokyo_today
from sdk.usecases.billing import queue_due, run_billing
from sdk.usecases.context import Context
from tests.chaos.harness import Profile, Report, Stand
from tests.chaos.model import check_recurring
from tests.chaos.standins import Killed, dynamodb_store

#: the first day of the run, 09:00 in Tokyo
RUN_START = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
MONTH_END = 31  # a closing day at month end (sdk.terms.MONTH_END)


@dataclass(frozen=True)
class Recurring(Profile):
    """The storm's profile (``deals`` per-deal subscriptions across ``companies`` companies billed per deal) and the
    recurring scenario's own knobs."""

    consolidated: int = 0  # companies billed by consolidated invoice
    company_deals: tuple[int, int] = (2, 5)  # deals of each consolidated company (at least, at most)
    months: int = 3  # how long the run lasts
    win_days: int = 0  # deals are won on this many distinct days (0: any day of the run)
    late: float = 0.25  # share of deals won late: the close date 5 to 40 days before the win
    passes: float = 0.25  # share of days an operator also runs `billing run` (every closing date: always)
    queued_twice: float = 0.2  # share of days the daily pass is queued twice


SMALL_RECURRING = Recurring(
    deals=20,
    companies=6,
    consolidated=3,
    seed=20270101,
    kills=3,
    kill_probability=0.01,
    win_days=3,
    stalls=1,
    stall_probability=0.1,
    slow_writes=0.05,
    slow_reads=0.02,
)
FULL_RECURRING_SEEDS = (1, 2, 3)


def full_recurring(seed: int, store: str = "sqlite") -> Recurring:
    """The full recurring profile: 500 subscriptions across 100 companies and 50 consolidated companies on SQLite;
    60 subscriptions and 8 consolidated companies on moto's DynamoDB (each request serialised). Three months."""
    if store == "dynamodb":
        return Recurring(
            deals=60,
            companies=20,
            consolidated=8,
            seed=seed,
            store=store,
            kills=6,
            kill_probability=0.004,
            stalls=3,
            stall_probability=0.02,
            slow_writes=0.04,
            slow_reads=0.02,
            invoice_order="oldest_first" if seed % 2 else "shuffled",
        )
    return Recurring(
        deals=500,
        companies=100,
        consolidated=50,
        seed=seed,
        store=store,
        kills=20,
        kill_probability=0.001,
        stalls=6,
        stall_probability=0.005,
        slow_writes=0.04,
        slow_reads=0.02,
        invoice_order="oldest_first" if seed % 2 else "shuffled",
        patience=3600.0,
    )


# ------------------------------------------------------------------------------------------- the contracts


def months_after(day: date, months: int) -> date:
    """``day`` moved ``months`` on, its day of the month clamped to shorter months (1/31 → 2/28 → 3/31)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def closing_date(day: date, closing_day: int) -> date:
    """The closing date of the window ``day`` falls in (month end, or the ``closing_day``-th)."""
    last = calendar.monthrange(day.year, day.month)[1]
    if closing_day >= last or day.day <= closing_day:
        return day.replace(day=min(closing_day, last))
    following = months_after(day.replace(day=1), 1)
    return following.replace(day=min(closing_day, calendar.monthrange(following.year, following.month)[1]))


@dataclass(frozen=True)
class Contract:
    """What one deal of the scenario bills, as the scenario wrote it into HubSpot: ``count`` periods (``None``:
    until cancelled) of ``months`` each from ``start``, billed in advance; won on ``won`` (Tokyo)."""

    deal: str
    company: str
    kind: str
    start: date
    months: int
    count: int | None
    won: date
    closing_day: int | None = None  # a consolidated company's: month end (31) or the 20th

    @property
    def consolidated(self) -> bool:
        return self.closing_day is not None

    def periods(self, through: date) -> list[tuple[int, date]]:
        """(period number, billing date) of every period billed on or before ``through``."""
        out: list[tuple[int, date]] = []
        number = 1
        while self.count is None or number <= self.count:
            billed = months_after(self.start, self.months * (number - 1))
            if billed > through:
                break
            out.append((number, billed))
            number += 1
        return out

    def closing(self, day: date) -> date:
        """The closing date of the company's window ``day`` falls in (a consolidated company's)."""
        if self.closing_day is None:
            raise ValueError(f"deal {self.deal} is billed per deal: it has no closing windows")
        return closing_date(day, self.closing_day)

    def next_billing(self, after: int) -> date | None:
        """The billing date of period ``after + 1`` (``None``: the term ends first)."""
        if self.count is not None and after >= self.count:
            return None
        return months_after(self.start, self.months * after)


@dataclass
class Book:
    """The scenario's CRM: every contract by deal, and the deals won each day."""

    contracts: dict[str, Contract] = field(default_factory=dict)
    wins: dict[date, list[str]] = field(default_factory=lambda: defaultdict(list))
    consolidated_companies: list[str] = field(default_factory=list)


RATES = (None, "10", "8_reduced")
TERMS = (None, "month_end_next_month_end", "net_30", "month_end_next_next_month_end")
#: the per-deal subscriptions: (kind, weight, months per period, term in months or None, delay months)
PER_DEAL_KINDS = (
    ("monthly", 25, 1, 12, 0),
    ("monthly with an annual support line", 5, 1, 12, 0),
    ("monthly, 6 months", 10, 1, 6, 0),
    ("monthly, open-ended", 15, 1, None, 0),
    ("monthly, starting a month later", 5, 1, 6, 1),
    ("quarterly", 10, 3, 12, 0),
    ("quarterly, open-ended", 5, 3, None, 0),
    ("annual", 10, 12, 24, 0),
    ("instalments", 15, 1, 0, 0),  # freee_billing_plan: 3, 6 or 12 monthly instalments of one-time lines
)
#: a consolidated company's deals
CONSOLIDATED_KINDS = (
    ("monthly", 25, 1, 6, 0),
    ("monthly, open-ended", 10, 1, None, 0),
    ("quarterly", 5, 3, 12, 0),
    ("one-off", 50, 1, 1, 0),
    ("instalments", 10, 1, 0, 0),
)


def seed_book(stand: Stand, profile: Recurring, days: list[date]) -> Book:
    """The companies and deals (none won yet), each deal's contract and the day it is won."""
    box, rng, book = stand.hubspot_box, stand.rng, Book()
    win_days = sorted(rng.sample(days, k=profile.win_days)) if profile.win_days else days

    def won_on() -> date:
        return days[0] if rng.random() < 0.2 else rng.choice(win_days)

    per_deal = []
    for n in range(profile.companies):
        props: dict[str, Any] = {"name": f"株式会社サブスク{n:03d}", "state": "東京都", "city": "渋谷区"}
        if chosen := rng.choice(TERMS):
            props["freee_payment_terms"] = chosen
        per_deal.append(box.create_company(**props))
    for n in range(profile.deals):
        _deal(stand, book, per_deal[n % len(per_deal)], PER_DEAL_KINDS, f"サブスク{n}", won_on(), profile)
    for n in range(profile.consolidated):
        closing = rng.choice((MONTH_END, 20))
        company = box.create_company(
            name=f"株式会社まとめ{n:03d}",
            state="東京都",
            city="港区",
            freee_billing_mode="consolidated",
            freee_closing_day="month_end" if closing == MONTH_END else str(closing),
            freee_payment_terms="month_end_next_month_end",
        )
        book.consolidated_companies.append(company)
        for k in range(rng.randint(*profile.company_deals)):
            _deal(stand, book, company, CONSOLIDATED_KINDS, f"まとめ{n}-{k}", won_on(), profile, closing)
    return book


def _deal(
    stand: Stand,
    book: Book,
    company: str,
    kinds: tuple[tuple[str, int, int, int | None, int], ...],
    name: str,
    won: date,
    profile: Recurring,
    closing_day: int | None = None,
) -> None:
    rng = stand.rng
    kind, _, months, term, delay = rng.choices(kinds, weights=[k[1] for k in kinds])[0]
    closed = won - timedelta(days=rng.randint(5, 40)) if rng.random() < profile.late else won
    rate = rng.choice(RATES)
    tax = {"freee_tax_rate": rate} if rate else {}
    props: dict[str, Any] = {}
    lines: list[dict[str, str]] = []
    if kind == "instalments":
        count = rng.choice((3, 6, 12))
        props["freee_billing_plan"] = str(count)
        lines = [
            {"name": f"{name} 開発", "quantity": "1", "price": str(rng.randrange(100_000, 3_000_000, 1000))}
            | tax,
            {"name": f"{name} 保守", "quantity": str(rng.randint(1, 3)), "price": "50000"},
        ]
    elif kind == "one-off":
        count = 1
        lines = [
            {
                "name": f"{name} 作業{k}",
                "quantity": str(rng.randint(1, 5)),
                "price": str(rng.randrange(1000, 200_000, 10)),
            }
            | ({"freee_tax_rate": r} if (r := rng.choice(RATES)) else {})
            for k in range(rng.randint(1, 3))
        ]
    else:
        frequency = {1: "monthly", 3: "quarterly", 12: "annually"}[months]
        recurring = {
            "name": f"{name} 利用料",
            "quantity": str(rng.randint(1, 20)),
            "price": str(rng.randrange(1000, 100_000, 100)),
            "recurringbillingfrequency": frequency,
        } | tax
        count = None
        if term is not None:
            recurring["hs_recurring_billing_period"] = f"P{term}M"
            count = term // months
        if delay:
            recurring |= {
                "hs_billing_start_delay_type": "hs_billing_start_delay_months",
                "hs_billing_start_delay_months": str(delay),
            }
        lines = [recurring]
        if kind.endswith(
            "annual support line"
        ):  # billed on the first of every twelve periods, beside the monthly line
            lines.append(
                {
                    "name": f"{name} 年間サポート",
                    "quantity": "1",
                    "price": "120000",
                    "recurringbillingfrequency": "annually",
                    "hs_recurring_billing_period": "P12M",
                }
            )
        if rng.random() < 0.4:  # a one-time setup fee on the first period's invoice
            lines.append({"name": f"{name} 初期設定", "quantity": "1", "price": "100000"})
    deal = stand.hubspot_box.create_deal(
        company=company,
        line_items=lines,
        dealname=f"{name}（{kind}）",
        closedate=f"{closed.isoformat()}T03:00:00Z",
        pipeline="default",
        dealstage="appointmentscheduled",
        **props,
    )
    stand.deal_company[deal] = company
    book.contracts[deal] = Contract(
        deal, company, kind, months_after(closed, delay), months, count, won, closing_day
    )
    book.wins[won].append(deal)


# ------------------------------------------------------------------------------------------------ the days


class JumpingClock(ScaledClock):
    """The storm's scaled clock, which the scenario can also move forward at once (the night between two days)."""

    def __init__(self, factor: float, *, start: datetime) -> None:
        super().__init__(factor, start=start)
        self.skipped = 0.0

    def elapsed(self) -> float:
        return super().elapsed() + self.skipped

    def jump_to(self, when: datetime) -> None:
        self.skipped += max(0.0, (when - self.now()).total_seconds())


def run_days(profile: Recurring) -> list[date]:
    first = tokyo_today(RUN_START)
    last = months_after(first, profile.months) - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Operator:
    """``billing run`` beside the workers, in a thread of its own (a process that may be killed part way)."""

    def __init__(self, stand: Stand, day: date) -> None:
        self.stand, self.day = stand, day
        self.thread = threading.Thread(target=self._run, name=f"billing-run-{day}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        report = self.stand.report
        try:
            summary = run_billing(self.stand.context(mortal=True), self.day)
        except Killed:
            report.note("billing runs killed")
            return
        except Exception as error:  # the store went away under it: the operator runs it again tomorrow
            report.note(f"billing runs failed: {type(error).__name__}")
            return
        report.note("billing runs")
        report.note("invoices made by billing runs", summary.invoices_created)
        for outcome, n in summary.outcomes.items():
            report.note(f"billing run outcomes: {outcome}", n)

    def join(self, deadline: float) -> None:
        self.thread.join(max(0.0, deadline - time.monotonic()))
        if self.thread.is_alive():
            raise TimeoutError(f"billing run for {self.day} did not end")


def run(profile: Recurring, workdir: Path, *, dynamodb: Any = None) -> Report:
    """The recurring storm on ``profile.store`` (``dynamodb``: a boto3 resource made inside moto)."""
    report = Report(profile)
    started = time.monotonic()
    store = None
    if profile.store == "dynamodb":
        if dynamodb is None:
            raise ValueError("the DynamoDB profile needs a boto3 DynamoDB resource made inside moto")
        store = dynamodb_store(dynamodb)
    clock = JumpingClock(profile.speed, start=RUN_START)
    stand = Stand(profile, workdir, report, store, clock=clock)
    days = run_days(profile)
    try:
        stand.start()
        book = seed_book(stand, profile, days)
        report.note("subscriptions", profile.deals)
        report.note("consolidated companies", profile.consolidated)
        report.note("deals of consolidated companies", sum(c.consolidated for c in book.contracts.values()))
        stand.limits.switch(real=profile.real_rate_limits != 0)
        stand.faults(on=True)
        daily = stand.context(mortal=False)
        queue = stand.queue()
        deadline = time.monotonic() + profile.patience
        restart_on = days[len(days) // 2]
        delivered = 0
        for day in days:
            clock.jump_to(datetime.combine(day, RUN_START.timetz()))
            delivered = _one_day(stand, book, profile, daily, day, day == restart_on, delivered, deadline)
        stand.limits.switch(real=False)
        stand.faults(on=False)
        report.note("redriven after the run", queue.redrive())
        stand.wait_drained(queue, deadline, checks=3, every=0.05)
        stand.loop.stop_workers(timeout=30)
        report.note("webhook deliveries", len(stand.hubspot_box.deliveries))
        report.note("duplicate deliveries", sum(1 for d in stand.hubspot_box.deliveries if d.duplicate))
        check_recurring(stand, book.contracts, days[-1], report)
    finally:
        stand.close()
        report.seconds = time.monotonic() - started
    return report


def _one_day(
    stand: Stand,
    book: Book,
    profile: Recurring,
    daily: Context,
    day: date,
    restart: bool,
    delivered: int,
    deadline: float,
) -> int:
    """One day of the run (see the module); returns how many webhook deliveries there were by its end."""
    rng, report, queue = stand.rng, stand.report, stand.queue()
    won = book.wins.get(day, [])
    for n, deal in enumerate(won):  # a few seconds apart: the webhooks go out in batches
        stand.hubspot_box.move_deal_to_stage(deal, "closedwon")
        stand.clock.sleep(2.0)
        if restart and n == len(won) // 2:
            stand.restart_store()
    if restart and not won:
        stand.restart_store()
    queued = len(queue_due(daily, queue, on=day).deals)
    if queued and rng.random() < profile.queued_twice:
        queue_due(daily, queue, on=day)
        report.note("daily passes queued twice")
    report.note("deals queued by the daily pass", queued)
    closing = any(closing_date(day, c) == day for c in (MONTH_END, 20))
    operator = Operator(stand, day) if (queued and (closing or rng.random() < profile.passes)) else None
    if won or queued:
        stand.hubspot_box.wait_idle(max(1.0, deadline - time.monotonic()))
        delivered = stand.replay_some_batches(since=delivered)
    for _ in range(10):
        stand.wait_drained(queue, deadline, checks=2, every=0.02)
        if operator is not None:
            operator.join(deadline)
            operator = None
        dead = queue.depth().dead
        if not dead:
            break
        stand.count_dead_letters("during the run")
        report.note("dead letters redriven during the run", queue.redrive())
    if tokyo_today(stand.clock.now()) != day:
        report.problems.append(f"{day.isoformat()} ran past midnight in Tokyo: the machine is too loaded")
    return delivered
