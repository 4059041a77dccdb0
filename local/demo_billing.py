"""The demo's billing chapter (issue 17): one subscription billed across three months, then one month-end
consolidated invoice, on the demo's own clock moved forward (:meth:`~sdk.clock.ShiftedClock.advance`) while the
server, the worker and both sandboxes keep running.

1. A deal won with a monthly recurring line item (「クラウド勤怠 Pro」 ¥50,000 a month for 12 months) and a one-time
   setup line: its won webhook reaches the worker, which bills period 1 (the month and the setup) at once and
   stores the schedule.
2. The clock moves to the next two billing dates; each day the billing pass (``run_billing``, as ``billing run``)
   bills that month's period, exactly once (the same pass again that day bills nothing).
3. A company billed consolidated (月末締め翌月末払い) wins a subscription and two one-off deals: the won trigger
   enrols each, nothing is invoiced alone; at the month end the pass makes ONE invoice for the company, a heading
   line per deal and period, tax once per rate.

Like the rest of the demo it checks itself against a plan written down before the run: a step that did not
happen raises :class:`~local.demo.DemoFailed`; a wrong value is added to the run's problems.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

import local.demo as demo
from sdk.billing.units import Unit, parse_marker
from sdk.money import format_yen
from sdk.terms import TOKYO, tokyo_today

if TYPE_CHECKING:
    from local.demo import DemoRun, _World

Step = Callable[[str], AbstractContextManager[None]]

RATES = {"10": 10, "8_reduced": 8}  # freee_tax_rate → percent (a line without one: the default, 10 %)
RATE_KEYS = {percent: key for key, percent in RATES.items()}  # → freee's amount_tax_{key}
RATE_WORDS = {10: "10%", 8: "8%（軽減）"}


@dataclass(frozen=True)
class PlannedLine:
    """A line item: ``months`` set makes it a monthly recurring line for that many months (``P{months}M``)."""

    name: str
    quantity: int
    price: int
    rate: str = "10"
    months: int | None = None

    def props(self) -> dict[str, str]:
        given = {"name": self.name, "quantity": str(self.quantity), "price": str(self.price)}
        if self.rate != "10":
            given["freee_tax_rate"] = self.rate
        if self.months is not None:
            given |= {
                "recurringbillingfrequency": "monthly",
                "hs_recurring_billing_period": f"P{self.months}M",
            }
        return given

    @property
    def net(self) -> int:
        return self.quantity * self.price


@dataclass(frozen=True)
class PlannedBillingDeal:
    name: str
    lines: tuple[PlannedLine, ...]

    @property
    def recurring(self) -> bool:
        return any(line.months for line in self.lines)

    def period_lines(self, number: int) -> tuple[PlannedLine, ...]:
        """What period ``number`` bills: every line in the first, the recurring lines after."""
        return self.lines if number == 1 else tuple(line for line in self.lines if line.months)


SUBSCRIBER = "株式会社はるかぜ製作所"
SUBSCRIPTION = PlannedBillingDeal(
    "クラウド勤怠 Pro",
    (PlannedLine("クラウド勤怠 Pro", 1, 50_000, months=12), PlannedLine("初期設定", 1, 100_000)),
)
MONTHS_BILLED = 3
TERMS = "month_end_next_month_end"  # 月末締め翌月末払い

CONSOLIDATED = "株式会社まとめ商事"
CONSOLIDATED_DEALS = (
    PlannedBillingDeal(
        "勤怠サブスク（まとめ請求）", (PlannedLine("クラウド勤怠 Pro", 1, 50_000, months=12),)
    ),
    PlannedBillingDeal(
        "導入研修", (PlannedLine("導入研修", 2, 30_000), PlannedLine("研修用お弁当", 10, 1_000, "8_reduced"))
    ),
    PlannedBillingDeal("データ移行", (PlannedLine("データ移行作業", 1, 80_000),)),
)


@dataclass
class Snapshot:
    """The subscription's deal as HubSpot shows it after one day's billing."""

    day: date
    shown: dict[str, str | None]


@dataclass
class BillingStory:
    """What the chapter made and found, for its tables and its checks."""

    start: date  # the subscription's first day: the first of the month the demo runs in
    subscription: str = ""  # HubSpot deal id
    subscriber: str = ""  # HubSpot company id
    snapshots: list[Snapshot] = field(default_factory=list)
    invoices: dict[int, str] = field(default_factory=dict)  # period → freee invoice number
    company: str = ""  # the consolidated company's HubSpot id
    members: dict[str, str] = field(default_factory=dict)  # planned deal name → HubSpot deal id
    closing: date | None = None  # the month end the consolidated invoice closes on
    consolidated: str = ""  # its freee invoice number

    @property
    def billing_dates(self) -> list[date]:
        return [_add_months(self.start, n) for n in range(MONTHS_BILLED)]


def run_billing_story(world: _World, run: DemoRun, step: Step, console: Console) -> BillingStory:
    """The chapter's steps (each timed by ``step``), its tables, then its checks (wrong values in
    ``run.problems``)."""
    names = world.settings.properties
    story = BillingStory(start=tokyo_today(world.clock.now()).replace(day=1))
    first, *later = story.billing_dates
    with step(
        "a subscription won → its won webhook → worker → period 1 invoiced / 定期契約の受注 → 初回の請求書"
    ):
        _seed_subscription(world, story)
        world.hubspot_box.move_deal_to_stage(story.subscription, "closedwon")
        _wait(world, console, [story.subscription], names.deal_invoice_count, "1")
        _settle(world)
        invoice = _period_invoice(world, story, 1)
        story.invoices[1] = invoice["invoice_number"]
        story.snapshots.append(Snapshot(first, world.hubspot_box.properties_of("deals", story.subscription)))
        console.print(
            f"  period 1 / 第1回 → {invoice['invoice_number']} 「{invoice['subject']}」 "
            f"{format_yen(int(invoice['total_amount']))}; the next periods are the billing pass's"
            f" / 2回目以降は請求実行で作成"
        )
    for number, day in enumerate(later, start=2):
        with step(
            f"the clock moved to {day.isoformat()} → billing pass (billing run) → period {number}"
            f" / 時計を進めて請求実行 → 第{number}回"
        ):
            _advance_to(world, day)
            _billing_pass(world, console, day, expect_due=1)
            story.invoices[number] = _period_invoice(world, story, number)["invoice_number"]
            story.snapshots.append(
                Snapshot(day, world.hubspot_box.properties_of("deals", story.subscription))
            )
    with step(
        "a consolidated company wins 3 deals → enrolled, nothing invoiced alone / 合算請求の会社が3件受注 → 月末まで請求しない"
    ):
        before = len(world.freee_box.invoices())
        _seed_consolidated(world, story, later[-1])
        for deal_id in story.members.values():
            world.hubspot_box.move_deal_to_stage(deal_id, "closedwon")
        _wait(world, console, list(story.members.values()), names.deal_billing_status, "scheduled")
        _settle(world)
        if len(world.freee_box.invoices()) != before:
            raise demo.DemoFailed(
                "a deal of a consolidated company was invoiced alone / 合算請求の取引が単独で請求されました"
            )
        story.closing = _month_end(later[-1])
        console.print(
            f"  {len(story.members)} deals won → 0 invoices; each deal shows its next billing date"
            f" {story.closing.isoformat()} / 受注{len(story.members)}件 → 請求書0件、次回請求日 {story.closing.isoformat()}"
        )
    with step(
        f"the clock moved to the month end {story.closing.isoformat()} → billing pass → ONE consolidated invoice"
        f" / 月末締め → 合算請求書1件"
    ):
        _advance_to(world, story.closing)
        _billing_pass(world, console, story.closing, expect_due=len(story.members))
        story.consolidated = _consolidated_invoice(world, story)["invoice_number"]
    _print_billing(console, world, story)
    _check_billing(world, story, run.problems)
    return story


# ------------------------------------------------------------------------------------------------ the steps


def _seed_subscription(world: _World, story: BillingStory) -> None:
    names = world.settings.properties
    box = world.hubspot_box
    story.subscriber = box.create_company(name=SUBSCRIBER, **{names.company_payment_terms: TERMS})
    story.subscription = _create_deal(world, story.subscriber, SUBSCRIPTION, story.start)


def _seed_consolidated(world: _World, story: BillingStory, day: date) -> None:
    names = world.settings.properties
    story.company = world.hubspot_box.create_company(
        name=CONSOLIDATED,
        **{
            names.company_billing_mode: "consolidated",
            names.company_closing_day: "month_end",
            names.company_payment_terms: TERMS,
        },
    )
    for deal in CONSOLIDATED_DEALS:
        story.members[deal.name] = _create_deal(world, story.company, deal, day)


def _create_deal(world: _World, company: str, deal: PlannedBillingDeal, closed: date) -> str:
    return world.hubspot_box.create_deal(
        company=company,
        line_items=[line.props() for line in deal.lines],
        dealname=deal.name,
        closedate=f"{closed.isoformat()}T03:00:00Z",
        pipeline="default",
        dealstage="appointmentscheduled",
    )


def _wait(world: _World, console: Console, deals: Sequence[str], prop: str, value: str) -> None:
    """Until every deal shows ``prop`` = ``value`` (the worker wrote it back), or :data:`WAIT_SECONDS`."""
    deadline = time.monotonic() + demo.WAIT_SECONDS
    with console.status("waiting for the worker / 処理待ち") as spinner:
        while True:
            shown = {d: world.hubspot_box.properties_of("deals", d).get(prop) for d in deals}
            done = sum(1 for v in shown.values() if v == value)
            spinner.update(f"{prop} = {value}: {done}/{len(deals)} deals / 取引")
            if done == len(deals):
                return
            if time.monotonic() > deadline:
                late = ", ".join(f"{d}={v or 'pending'}" for d, v in shown.items() if v != value)
                raise demo.DemoFailed(
                    f"after {demo.WAIT_SECONDS:.0f}s some deals do not show {prop} = {value}: {late}"
                    f" / 受注の処理が終わらない取引があります"
                )
            time.sleep(0.2)


def _settle(world: _World, timeout: float = 10.0) -> None:
    """Nothing in flight before the clock jumps: every webhook (duplicates too) delivered and every message
    handled; a message left over would otherwise be handled a month later, by the won trigger, not the pass."""
    if not world.hubspot_box.wait_idle(timeout):
        raise demo.DemoFailed(
            "the HubSpot sandbox still has webhooks to deliver / Webhookの配信が終わりません"
        )
    deadline = time.monotonic() + timeout
    while (depth := world.queue.depth()).total - depth.dead:
        if time.monotonic() > deadline:
            raise demo.DemoFailed(f"the queue is not empty: {depth} / キューが空になりません")
        time.sleep(0.1)


def _advance_to(world: _World, day: date) -> None:
    """The demo's clock moved to 10:00 in Tokyo on ``day`` (forward only: every target is a later day)."""
    target = datetime.combine(day, clock_time(10, 0), TOKYO).astimezone(UTC)
    world.clock.advance((target - world.clock.now()).total_seconds())


def _billing_pass(world: _World, console: Console, day: date, *, expect_due: int) -> None:
    """``billing run --date day``: exactly one invoice made; the same pass again that day makes none."""
    from sdk.usecases.billing import run_billing

    summary = run_billing(world.ctx, day)
    again = run_billing(world.ctx, day)
    console.print(
        f"  billing pass {day.isoformat()}: deals due {summary.due_deals} → invoices {summary.invoices_created};"
        f" the same pass again → {again.invoices_created} / 請求実行: 対象 {summary.due_deals}件 → 請求書"
        f" {summary.invoices_created}件、同日の再実行 → {again.invoices_created}件"
    )
    if not summary.ok or summary.problems:
        raise demo.DemoFailed(f"the billing pass failed: {summary.problems} / 請求実行に失敗しました")
    if (summary.due_deals, summary.invoices_created) != (expect_due, 1) or again.invoices_created:
        raise demo.DemoFailed(
            f"the billing pass on {day.isoformat()} found {summary.due_deals} deals due (expected {expect_due}) and"
            f" made {summary.invoices_created} + {again.invoices_created} invoices (expected 1 + 0)"
            f" / 請求実行の結果が想定と異なります"
        )


def _invoices_of(world: _World, key: str) -> list[dict[str, Any]]:
    return [i for i in world.freee_box.invoices() if parse_marker(i.get("memo")) == (demo.PORTAL, key)]


def _period_invoice(world: _World, story: BillingStory, number: int) -> dict[str, Any]:
    found = _invoices_of(world, Unit.of_period(story.subscription, number).key)
    if len(found) != 1:
        raise demo.DemoFailed(
            f"period {number} of the subscription has {len(found)} freee invoices, not 1 / 第{number}回の請求書は1件のはずです"
        )
    return found[0]


def _consolidated_invoice(world: _World, story: BillingStory) -> dict[str, Any]:
    assert story.closing is not None  # noqa: S101 - set by the step before
    found = _invoices_of(world, Unit.consolidated(story.company, story.closing).key)
    if len(found) != 1:
        raise demo.DemoFailed(
            f"the consolidated company has {len(found)} invoices for {story.closing.isoformat()}, not 1"
            f" / 合算請求書は1件のはずです"
        )
    return found[0]


# ------------------------------------------------------------------------------------------------ the checks


def _check_billing(world: _World, story: BillingStory, problems: list[str]) -> None:
    """Every invoice and deal value as the plan says: each period's subject, dates and total; the deal after each
    day; the consolidated invoice's headings, tax per rate and each deal's share."""
    names = world.settings.properties
    invoiced = 0
    for number, (day, snapshot) in enumerate(zip(story.billing_dates, story.snapshots, strict=True), start=1):
        invoice = _period_invoice(world, story, number)
        net = sum(line.net for line in SUBSCRIPTION.period_lines(number))
        invoiced += net + net * 10 // 100
        want_invoice = {
            "subject": f"{_month_label(day)} {SUBSCRIPTION.name}",
            "billing_date": day.isoformat(),
            "payment_date": _month_end(_add_months(day, 1)).isoformat(),
            "total_amount": str(net + net * 10 // 100),
        }
        _differ(problems, f"period {number}'s invoice", invoice, want_invoice)
        want_deal = {
            names.deal_invoice_count: str(number),
            names.deal_amount_invoiced: str(invoiced),
            names.deal_next_billing_date: _add_months(day, 1).isoformat(),
            names.deal_billing_status: "scheduled",
        }
        _differ(problems, f"{SUBSCRIPTION.name} on {day.isoformat()}", snapshot.shown, want_deal)
    _check_consolidated(world, story, problems)


def _check_consolidated(world: _World, story: BillingStory, problems: list[str]) -> None:
    assert story.closing is not None  # noqa: S101 - set by the steps
    names = world.settings.properties
    invoice = _consolidated_invoice(world, story)
    label = _month_label(story.closing)
    headings = [line.get("description") for line in invoice["lines"] if line.get("type") == "text"]
    want_headings = [
        f"【{deal.name} {label}】" if deal.recurring else f"【{deal.name}】" for deal in CONSOLIDATED_DEALS
    ]
    if headings != want_headings:
        problems.append(f"consolidated invoice: headings {headings}, expected {want_headings}")
    nets: dict[int, int] = {}
    for deal in CONSOLIDATED_DEALS:
        for line in deal.period_lines(1):
            nets[RATES[line.rate]] = nets.get(RATES[line.rate], 0) + line.net
    tax = {rate: net * rate // 100 for rate, net in nets.items()}  # one rounding per rate for the invoice
    next_month_end = _month_end(story.closing + timedelta(days=1)).isoformat()
    want = {
        "subject": f"{label} ご請求",
        "billing_date": story.closing.isoformat(),
        "payment_date": next_month_end,
        "amount_excluding_tax": str(sum(nets.values())),
        "amount_tax": str(sum(tax.values())),
        "total_amount": str(sum(nets.values()) + sum(tax.values())),
    } | {f"amount_tax_{RATE_KEYS[rate]}": str(amount) for rate, amount in tax.items()}
    _differ(problems, "the consolidated invoice", invoice, want)
    shares = 0
    for deal in CONSOLIDATED_DEALS:
        shown = world.hubspot_box.properties_of("deals", story.members[deal.name])
        shares += int(shown.get(names.deal_amount_invoiced) or 0)
        want_deal = {
            names.deal_invoice_number: invoice["invoice_number"],
            names.deal_invoice_count: "1",
            names.deal_billing_status: "scheduled" if deal.recurring else "ended",
            names.deal_next_billing_date: next_month_end if deal.recurring else "",
        }
        _differ(problems, deal.name, shown, want_deal)
    if shares != int(invoice["total_amount"]):
        problems.append(
            f"the consolidated deals' shares add up to {shares}, not the invoice's {int(invoice['total_amount'])}"
        )


def _differ(problems: list[str], what: str, shown: Mapping[str, Any], want: Mapping[str, str]) -> None:
    """A problem for each value ``shown`` does not have as ``want`` says (numbers compared as whole yen)."""
    for key, value in want.items():
        got = shown.get(key)
        if isinstance(got, float) and got.is_integer():  # freee's amounts are JSON numbers
            got = int(got)
        if ("" if got is None else str(got)) != value:
            problems.append(f"{what}: {key} = {got!r}, expected {value!r}")


# ------------------------------------------------------------------------------------------------ the tables


def _print_billing(console: Console, world: _World, story: BillingStory) -> None:
    names = world.settings.properties
    invoices = Table(
        title=f"{SUBSCRIPTION.name}: one invoice a month / 月額の定期請求（freeeの請求書）",
        header_style="bold",
    )
    for column in ("回 period", "請求書 invoice", "件名 subject", "請求日 billing", "期日 due"):
        invoices.add_column(column)
    invoices.add_column("合計 total", justify="right")
    for number in range(1, MONTHS_BILLED + 1):
        invoice = _period_invoice(world, story, number)
        invoices.add_row(
            str(number),
            invoice["invoice_number"],
            Text(invoice["subject"]),
            invoice["billing_date"],
            invoice["payment_date"],
            format_yen(int(invoice["total_amount"])),
        )
    console.print(invoices)
    deal = Table(
        title=f"{SUBSCRIPTION.name} in HubSpot after each day / 各請求日後の取引", header_style="bold"
    )
    deal.add_column("日付 day")
    for ja, prop in (
        ("請求回数", names.deal_invoice_count),
        ("請求済み", names.deal_amount_invoiced),
        ("次回請求日", names.deal_next_billing_date),
        ("状態", names.deal_billing_status),
    ):
        deal.add_column(f"{ja}\n{prop}", justify="right" if ja.startswith("請求") else "left")
    for snapshot in story.snapshots:
        shown = snapshot.shown
        amount = shown.get(names.deal_amount_invoiced)
        deal.add_row(
            snapshot.day.isoformat(),
            shown.get(names.deal_invoice_count) or "",
            format_yen(int(amount)) if amount else "—",
            shown.get(names.deal_next_billing_date) or "—",
            shown.get(names.deal_billing_status) or "",
        )
    console.print(deal)
    _print_schedule(console, world, story)
    _print_consolidated(console, world, story)


def _print_schedule(console: Console, world: _World, story: BillingStory) -> None:
    """The subscription's schedule as ``billing show --deal`` reads it: every period, its state and invoice."""
    from sdk.usecases.billing import schedule_view

    view = schedule_view(world.ctx, demo.PORTAL, story.subscription)
    table = Table(
        title=f"billing show --deal {story.subscription}: {view.deal_name} / 請求スケジュール",
        header_style="bold",
    )
    for column in ("回 #", "対象期間 period", "請求日 billing", "期日 due"):
        table.add_column(column)
    table.add_column("金額 amount", justify="right")
    table.add_column("状態 state")
    table.add_column("請求書 invoice")
    for p in view.periods:
        table.add_row(
            str(p.number),
            Text(f"{p.label} ({p.start.isoformat()}〜{p.end.isoformat()})"),
            p.billing_date.isoformat(),
            p.due_date.isoformat(),
            format_yen(p.amount) if p.amount is not None else "—",
            Text(p.state.value, style="green" if p.invoice_number else ""),
            p.invoice_number or "",
        )
    console.print(table)


def _print_consolidated(console: Console, world: _World, story: BillingStory) -> None:
    names = world.settings.properties
    invoice = _consolidated_invoice(world, story)
    table = Table(
        title=(
            f"{CONSOLIDATED}: one invoice for the month / 月末締めの合算請求書 {invoice['invoice_number']}"
            f" 「{invoice['subject']}」 請求日 billing {invoice['billing_date']} · 期日 due {invoice['payment_date']}"
        ),
        header_style="bold",
    )
    table.add_column("内容 description")
    for column in ("数量 qty", "単価 price", "税率 rate", "金額 amount"):
        table.add_column(column, justify="right")
    for line in invoice["lines"]:
        if line.get("type") == "text":
            table.add_row(Text(line.get("description") or "", style="bold"))
            continue
        rate = int(line.get("tax_rate") or 0)
        table.add_row(
            Text(f"  {line.get('description') or ''}"),
            str(line.get("quantity")),
            format_yen(int(line.get("unit_price") or 0)),
            RATE_WORDS.get(rate, f"{rate}%"),
            format_yen(int(line.get("amount_excluding_tax") or 0)),
            end_section=line is invoice["lines"][-1],
        )
    for rate in sorted(RATE_WORDS, reverse=True):
        net = int(invoice.get(f"amount_excluding_tax_{RATE_KEYS[rate]}") or 0)
        if net:
            tax = int(invoice[f"amount_tax_{RATE_KEYS[rate]}"])
            table.add_row(
                f"{RATE_WORDS[rate]}対象 subject to {rate}%",
                "",
                "",
                f"税 tax {format_yen(tax)}",
                format_yen(net),
            )
    table.add_row(
        Text("合計 total (tax once per rate / 税は税率ごとに1回)", style="bold"),
        "",
        "",
        f"税 tax {format_yen(int(invoice['amount_tax']))}",
        Text(format_yen(int(invoice["total_amount"])), style="bold"),
    )
    console.print(table)
    deals = Table(title=f"{CONSOLIDATED}'s deals in HubSpot / 合算された取引", header_style="bold")
    for column in ("取引 deal", "請求書 invoice"):
        deals.add_column(column)
    deals.add_column("按分 share", justify="right")
    deals.add_column("次回請求日 next")
    deals.add_column("状態 status")
    for deal in CONSOLIDATED_DEALS:
        shown = world.hubspot_box.properties_of("deals", story.members[deal.name])
        amount = shown.get(names.deal_amount_invoiced)
        deals.add_row(
            Text(deal.name),
            shown.get(names.deal_invoice_number) or "—",
            format_yen(int(amount)) if amount else "—",
            shown.get(names.deal_next_billing_date) or "—",
            shown.get(names.deal_billing_status) or "",
        )
    console.print(deals)


# ------------------------------------------------------------------------------------------------ dates


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s (``day`` is a first of the month)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, 1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _month_label(day: date) -> str:
    return f"{day.year}年{day.month}月分"
