"""The whole loop on one machine, with no account: ``hubspot-freee demo`` (``make demo``).

It runs the production code paths against the sandboxes served on loopback: the settings point the HubSpot and
freee clients at them, the local server (the same Flask app as ``hubspot-freee serve``) receives the HubSpot
sandbox's signed deal-stage webhooks, the worker creates the freee invoices, freee payments are registered in
the freee sandbox, and the payment sync writes deal and company balances back. Each step is checked against
what it should have done (a plan written down before the run), with tables of deals and companies. Then the
billing chapter (:mod:`local.demo_billing`) moves the same clock months ahead: a subscription billed once a month
for three months, and one month-end consolidated invoice for a company's deals. Everything it starts is stopped at
the end, whatever happened.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from local.loop import Loop
from sandbox import PORTAL_ID
from sandbox.freee import FreeeSandbox
from sandbox.hubspot import HubSpotSandbox
from sdk.clock import ShiftedClock
from sdk.terms import tokyo_today

if TYPE_CHECKING:
    from local.demo_billing import BillingStory

PORTAL = PORTAL_ID
WAIT_SECONDS = 40.0


@dataclass(frozen=True)
class PlannedDeal:
    """One deal of the story: how long ago it was won, what is paid in freee, what the rep should then see."""

    key: str
    company: str
    name: str
    days_ago: int
    lines: tuple[tuple[str, int, int, str | None], ...]  # name, quantity, unit price (yen), freee_tax_rate
    pay: str  # "full", "half", "none"
    expect_status: str  # freee_payment_status after the sync ("" when the deal cannot be invoiced)
    expect_sync: str = "created"
    imported: bool = (
        False  # created already won with its webhook lost: only the reconciliation sweep finds it
    )


@dataclass(frozen=True)
class PlannedCompany:
    key: str
    name: str
    terms: str | None
    expect_risk: str


COMPANIES = (
    PlannedCompany("sample", "株式会社サンプル商事", "month_end_next_month_end", "watch"),
    PlannedCompany("minato", "合同会社みなと食品", "net_30", "overdue"),
    PlannedCompany("kita", "北ソフトウェア株式会社", "month_end_next_next_month_end", "overdue"),
    PlannedCompany("yamate", "山手デザイン事務所", None, "none"),
)

DEALS = (
    PlannedDeal("s1", "sample", "会計freee導入支援", 70, (("初期設定", 1, 300_000, None),), "full", "paid"),
    PlannedDeal(
        "s2",
        "sample",
        "経理研修（2日）",
        2,
        (("操作研修（1日）", 2, 80_000, "10"),),
        "half",
        "partially_paid",
    ),
    PlannedDeal(
        "m1",
        "minato",
        "会議用弁当・飲料（9月）",
        70,
        (("幕の内弁当", 40, 1_080, "8_reduced"), ("会場設営", 1, 30_000, "10")),
        "none",
        "overdue",
    ),
    PlannedDeal(
        "m2",
        "minato",
        "会議用弁当（11月）",
        1,
        (("幕の内弁当", 25, 1_080, "8_reduced"),),
        "none",
        "unpaid",
    ),
    PlannedDeal(
        "k1", "kita", "保守サポート（年間）", 100, (("年間保守", 1, 600_000, None),), "half", "overdue"
    ),
    PlannedDeal(
        "k2", "kita", "輸出向けライセンス", 3, (("ライセンス（輸出）", 3, 50_000, "0"),), "full", "paid"
    ),
    PlannedDeal("y1", "yamate", "ロゴ制作", 4, (("ロゴデザイン", 1, 220_000, None),), "none", "unpaid"),
    PlannedDeal("y2", "yamate", "明細のない受注", 4, (), "none", "", expect_sync="invalid"),
    PlannedDeal(
        "y3",
        "yamate",
        "Web保守（取込・受注済み）",
        1,
        (("月額保守", 1, 55_000, None),),
        "none",
        "unpaid",
        imported=True,
    ),
)


class DemoFailed(Exception):
    """A step did not do what it should; the message says which and how."""


@dataclass
class DemoRun:
    """What the demo made and found, for its tables and its checks."""

    today: date
    companies: dict[str, str] = field(default_factory=dict)  # plan key → HubSpot company id
    deals: dict[str, str] = field(default_factory=dict)  # plan key → HubSpot deal id
    paid: dict[str, int] = field(default_factory=dict)  # plan key → yen paid in freee
    timings: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    billing: BillingStory | None = None  # the billing chapter's subscription and consolidated invoice


def run_demo(console: Console, *, workdir: Path | None = None) -> DemoRun:
    """Run the loop; raises :class:`DemoFailed` at the first step that did not do what it should (after
    stopping everything), and returns the run (with any wrong value in ``problems``) otherwise."""
    if not console.is_terminal:  # a log (CI, a pipe): wide enough for the tables, whatever COLUMNS says
        console = Console(file=console.file, width=max(console.width, 150), soft_wrap=False, markup=False)
    with (
        tempfile.TemporaryDirectory(prefix="hubspot-freee-demo-") as tmp,
        _World.start(workdir or Path(tmp)) as world,
    ):
        run = DemoRun(today=tokyo_today(world.clock.now()))
        step = _Stepper(console, run)
        with step("HubSpot properties (setup hubspot) / HubSpotプロパティの作成"):
            world.install()
        with step("companies and deals seeded / 会社と取引の作成"):
            world.seed(run)
        with step("deals won → signed webhooks → server → queue → worker → freee / 受注から請求書作成まで"):
            world.win_all(run)
            world.wait_for_invoices(run, console, imported=False)
        with step(
            "a deal imported already won, its webhook lost → invoice sweep → invoice / 照合で請求漏れを請求"
        ):
            world.sweep(run, console)
        with step("payments registered in freee / freeeで入金を登録"):
            world.pay(run)
        with step("payment sync (sync payments) / 入金状況の同期"):
            world.sync(run, console)
        with step("the same sync again: nothing changed, nothing written / 再同期（変更なし）"):
            world.sync(run, console, expect_writes=False)
        _print_tables(console, world, run)
        _check(world, run)
        from local.demo_billing import run_billing_story  # it builds on this module

        run.billing = run_billing_story(world, run, step, console)
        _print_timings(console, run)
        return run


# ------------------------------------------------------------------------------------------------- the world


class _World:
    """The loop on loopback (:class:`~local.loop.Loop`): the sandboxes, the local server and one worker, over one
    SQLite file, sharing one context and one queue."""

    def __init__(self, loop: Loop, clock: ShiftedClock) -> None:
        self.loop = loop
        self.clock = clock  # the loop's own clock: the billing chapter moves it forward
        self.settings = loop.settings
        self.freee_box: FreeeSandbox = loop.freee_box
        self.hubspot_box: HubSpotSandbox = loop.hubspot_box
        self.ctx = loop.context()
        self.queue = loop.queue()

    @classmethod
    @contextmanager
    def start(cls, workdir: Path) -> Iterator[_World]:
        database = f"sqlite:///{workdir / 'demo.sqlite'}"
        # HubSpot delivers at least once: show it makes no difference
        hubspot = {"duplicate_delivery_probability": 0.5, "seed": 7}
        clock = ShiftedClock()  # real time, until the billing chapter moves it to the next billing dates
        with Loop(clock, workdir, hubspot=hubspot, storage_url=database, queue_url=database) as loop:
            world = cls(loop, clock)
            loop.start_server(world.ctx, world.queue)
            loop.spawn_workers(
                1, lambda: world.ctx, queue=lambda: world.queue, poll_interval=0.2, name="demo-worker"
            )
            yield world

    # ------------------------------------------------------------------------------------------ the steps

    def install(self) -> None:
        """``setup hubspot`` and ``setup freee``, against the sandboxes."""
        if not self.loop.install(self.ctx.store.tokens).created_count:
            raise DemoFailed(
                "no property was created in a fresh HubSpot sandbox / プロパティが作成されません"
            )

    def seed(self, run: DemoRun) -> None:
        box = self.hubspot_box
        for company in COMPANIES:
            props = {"name": company.name, "state": "東京都", "city": "千代田区", "address": "丸の内1-1-1"}
            if company.terms:
                props["freee_payment_terms"] = company.terms
            run.companies[company.key] = box.create_company(**props)
        contact = box.create_contact(lastname="山田", firstname="太郎", email="taro@example.co.jp")
        for deal in DEALS:
            closed = run.today - timedelta(days=deal.days_ago)
            with box.webhooks_lost() if deal.imported else nullcontext():
                run.deals[deal.key] = box.create_deal(
                    company=run.companies[deal.company],
                    contacts=[contact],
                    line_items=[
                        {"name": n, "quantity": str(q), "price": str(p)}
                        | ({"freee_tax_rate": r} if r else {})
                        for n, q, p, r in deal.lines
                    ],
                    dealname=deal.name,
                    closedate=f"{closed.isoformat()}T03:00:00Z",
                    pipeline="default",
                    dealstage="closedwon" if deal.imported else "appointmentscheduled",
                )

    def win_all(self, run: DemoRun) -> None:
        for deal in DEALS:
            if not deal.imported:
                self.hubspot_box.move_deal_to_stage(run.deals[deal.key], "closedwon")

    def sweep(self, run: DemoRun, console: Console) -> None:
        """``hubspot-freee invoice sweep``: the imported deal is found and queued; the worker invoices it."""
        from sdk.usecases.sweep import Finding, sweep

        imported = sorted(run.deals[d.key] for d in DEALS if d.imported)
        report = sweep(self.ctx, self.queue)
        never = sorted(i.deal_id for i in report.items if i.finding is Finding.NOT_INVOICED)
        if never != imported or not set(never) <= set(report.queued):
            raise DemoFailed(
                f"the sweep queued {report.queued}, expected the imported deals {imported} "
                f"/ 照合で取り込み取引が見つかりません"
            )
        self.wait_for_invoices(run, console, imported=True)
        numbers = ", ".join(self.invoice_of(d)["invoice_number"] for d in imported)
        others = len(report.queued) - len(never)
        console.print(
            f"  {report.won_deals} won deals closed since {report.since} checked: {len(never)} never invoiced"
            f" → queued → {numbers}; {others} invalid deal checked again"
            f" / {report.since}以降の受注取引 {report.won_deals}件を照合: 請求漏れ {len(never)}件 → 請求書 {numbers}、"
            f"請求できない取引 {others}件を再確認"
        )
        again = sweep(self.ctx, self.queue)
        if any(i.finding is Finding.NOT_INVOICED for i in again.items):
            raise DemoFailed(
                f"a second sweep still found {again.as_dict()['counts']} / 再照合で差異が残りました"
            )

    def wait_for_invoices(self, run: DemoRun, console: Console, *, imported: bool) -> None:
        status = self.settings.properties.deal_sync_status
        deadline = time.monotonic() + WAIT_SECONDS
        keys = {d.key for d in DEALS if d.imported == imported}
        with console.status("waiting for the worker / 請求書の作成待ち") as spinner:
            while True:
                shown = {
                    k: self.hubspot_box.properties_of("deals", d).get(status)
                    for k, d in run.deals.items()
                    if k in keys
                }
                done = sum(1 for v in shown.values() if v in ("created", "invalid"))
                spinner.update(f"invoices: {done}/{len(shown)} deals done / 処理済み")
                if done == len(shown):
                    break
                if time.monotonic() > deadline:
                    late = ", ".join(
                        f"{k}={v or 'pending'}" for k, v in shown.items() if v not in ("created", "invalid")
                    )
                    raise DemoFailed(
                        f"after {WAIT_SECONDS:.0f}s some deals have no invoice yet: {late} "
                        f"/ 請求書が作成されていない取引があります"
                    )
                time.sleep(0.2)
        if imported:
            return
        if not self.hubspot_box.wait_idle(10):
            raise DemoFailed(
                "the HubSpot sandbox still has webhooks to deliver / Webhookの配信が終わりません"
            )
        deliveries = self.hubspot_box.deliveries
        statuses = [d.status for d in deliveries]
        if not deliveries or any(s is None or s >= 300 for s in statuses):
            raise DemoFailed(f"webhook deliveries answered {statuses} / Webhookの配信に失敗しました")
        duplicates = sum(1 for d in deliveries if d.duplicate)
        invoices = len(self.freee_box.invoices())
        console.print(
            f"  {len(deliveries)} signed webhook deliveries ({duplicates} duplicates) → {invoices} freee invoices"
            f" / 署名付きWebhook {len(deliveries)}件（重複 {duplicates}件）→ 請求書 {invoices}件"
        )
        self.replay(deliveries, invoices, console)

    def replay(self, deliveries: list[Any], invoices: int, console: Console) -> None:
        """Every delivery sent again, as HubSpot does when it did not see an answer: no new invoice."""
        import requests

        with requests.Session() as session:
            for delivery in deliveries:
                answer = session.post(
                    delivery.url, data=delivery.body.encode(), headers=delivery.headers, timeout=10
                )
                if answer.status_code >= 300:
                    raise DemoFailed(
                        f"a replayed delivery was answered {answer.status_code} / 再送が拒否されました"
                    )
        deadline = time.monotonic() + 10
        while self.queue.depth().visible and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a message taken just now is still being handled
        after = len(self.freee_box.invoices())
        console.print(
            f"  the {len(deliveries)} deliveries replayed → still {after} invoices / 再送後も請求書 {after}件"
        )
        if after != invoices:
            raise DemoFailed(
                f"replayed webhooks made {after - invoices} more invoices / 再送で請求書が増えました"
            )

    def pay(self, run: DemoRun) -> None:
        for deal in DEALS:
            if deal.pay == "none" or deal.expect_sync != "created":
                continue
            invoice = self.invoice_of(run.deals[deal.key])
            total = int(invoice["total_amount"])
            amount = total if deal.pay == "full" else total // 2
            self.freee_box.pay(int(invoice["id"]), amount, on=run.today)
            run.paid[deal.key] = amount

    def sync(self, run: DemoRun, console: Console, *, expect_writes: bool = True) -> None:
        from sdk.usecases.sync_payments import sync_payments

        summary = sync_payments(self.ctx)
        if not summary.ok:
            raise DemoFailed(f"the payment sync failed: {summary.errors} / 入金同期に失敗しました")
        console.print(
            f"  checked {summary.checked} invoices, {summary.changed_deals} deals and {summary.changed_companies}"
            f" companies changed, {summary.written_calls} HubSpot batch writes"
            f" / 確認 {summary.checked}件・更新 取引{summary.changed_deals}件 会社{summary.changed_companies}件"
        )
        if expect_writes != (summary.written_calls > 0):
            raise DemoFailed(
                f"the sync made {summary.written_calls} HubSpot writes, expected "
                f"{'some' if expect_writes else 'none'} / HubSpotへの書き込み回数が想定と異なります"
            )

    def invoice_of(self, deal_id: str) -> dict[str, Any]:
        from sdk.billing.units import parse_marker

        mine = [i for i in self.freee_box.invoices() if parse_marker(i.get("memo")) == (PORTAL, deal_id)]
        if len(mine) != 1:
            raise DemoFailed(f"deal {deal_id} has {len(mine)} freee invoices, not 1 / 請求書は1件のはずです")
        return mine[0]


# ------------------------------------------------------------------------------------------- checks, tables


def _check(world: _World, run: DemoRun) -> None:
    """Every deal shows what the plan says; every invoice belongs to one deal; each company's balance is the sum
    of its deals'. Wrong values are collected in ``run.problems`` (the caller exits non-zero)."""
    from sdk.billing.units import parse_marker

    names = world.settings.properties
    markers = [parse_marker(i.get("memo")) for i in world.freee_box.invoices()]
    invoiced_deals = [m[1] if m else "(no marker)" for m in markers]
    expected_invoices = sorted(run.deals[d.key] for d in DEALS if d.expect_sync == "created")
    if sorted(invoiced_deals) != expected_invoices:
        run.problems.append(
            f"freee invoices belong to {sorted(invoiced_deals)}, expected {expected_invoices}"
        )
    outstanding: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for deal in DEALS:
        shown = world.hubspot_box.properties_of("deals", run.deals[deal.key])
        if shown.get(names.deal_sync_status) != deal.expect_sync:
            run.problems.append(
                f"{deal.name}: sync status {shown.get(names.deal_sync_status)!r}, expected {deal.expect_sync!r}"
            )
        if deal.expect_sync != "created":
            if not shown.get(names.deal_sync_error):
                run.problems.append(f"{deal.name}: no reason in {names.deal_sync_error}")
            continue
        total = int(world.invoice_of(run.deals[deal.key])["total_amount"])
        left = total - run.paid.get(deal.key, 0)
        want = {
            names.deal_payment_status: deal.expect_status,
            names.deal_amount_paid: str(run.paid.get(deal.key, 0)),
            names.deal_amount_outstanding: str(left),
        }
        for prop, value in want.items():
            if shown.get(prop) != value:
                run.problems.append(f"{deal.name}: {prop} = {shown.get(prop)!r}, expected {value!r}")
        outstanding[deal.company] = outstanding.get(deal.company, 0) + left
        if deal.expect_status == "overdue":
            overdue[deal.company] = overdue.get(deal.company, 0) + left
    for company in COMPANIES:
        shown = world.hubspot_box.properties_of("companies", run.companies[company.key])
        want = {
            names.company_outstanding_total: str(outstanding.get(company.key, 0)),
            names.company_overdue_total: str(overdue.get(company.key, 0)),
            names.company_payment_risk: company.expect_risk,
        }
        for prop, value in want.items():
            if shown.get(prop) != value:
                run.problems.append(f"{company.name}: {prop} = {shown.get(prop)!r}, expected {value!r}")


def _print_tables(console: Console, world: _World, run: DemoRun) -> None:
    names = world.settings.properties
    deals = Table(title="deals in HubSpot / HubSpotの取引", header_style="bold")
    for column in ("取引 deal", "会社 company", "請求書 invoice", "合計 total", "入金状況 status"):
        deals.add_column(column)
    for column in ("入金 paid", "未回収 outstanding", "超過日数 late"):
        deals.add_column(column, justify="right")
    by_key = {c.key: c for c in COMPANIES}
    for deal in DEALS:
        shown = world.hubspot_box.properties_of("deals", run.deals[deal.key])
        number = shown.get(names.deal_invoice_number) or "—"
        if deal.expect_sync != "created":
            reason = (shown.get(names.deal_sync_error) or "").split(" / ")[0][:40]
            status = Text.assemble((shown.get(names.deal_sync_status) or "", "red"), f" {reason}")
        else:
            status = _status_style(shown.get(names.deal_payment_status) or "")
        deals.add_row(
            Text(deal.name),
            Text(by_key[deal.company].name),
            number,
            _yen(shown.get(names.deal_amount_invoiced)),
            status,
            _yen(shown.get(names.deal_amount_paid)),
            _yen(shown.get(names.deal_amount_outstanding)),
            shown.get(names.deal_days_overdue) or "",
        )
    console.print(deals)
    companies = Table(title="companies in HubSpot / HubSpotの会社", header_style="bold")
    companies.add_column("会社 company")
    for column in ("未回収 outstanding", "期日超過 overdue", "超過件数 count", "最長超過日数 oldest"):
        companies.add_column(column, justify="right")
    companies.add_column("リスク risk")
    for company in COMPANIES:
        shown = world.hubspot_box.properties_of("companies", run.companies[company.key])
        companies.add_row(
            Text(company.name),
            _yen(shown.get(names.company_outstanding_total)),
            _yen(shown.get(names.company_overdue_total)),
            shown.get(names.company_overdue_invoice_count) or "0",
            shown.get(names.company_oldest_overdue_days) or "0",
            _risk_style(shown.get(names.company_payment_risk) or ""),
        )
    console.print(companies)


def _yen(value: str | None) -> str:
    return f"¥{int(value):,}" if value and value.lstrip("-").isdigit() else "—"


def _status_style(status: str) -> Text:
    colour = {"paid": "green", "partially_paid": "yellow", "unpaid": "white", "overdue": "bold red"}
    return Text(status, style=colour.get(status, "white"))


def _risk_style(risk: str) -> Text:
    return Text(risk, style={"none": "green", "watch": "yellow", "overdue": "bold red"}.get(risk, "white"))


def _print_timings(console: Console, run: DemoRun) -> None:
    total = sum(seconds for _, seconds in run.timings)
    console.print(
        Text(
            f"{len(run.timings)} steps in {total:.1f}s / 全{len(run.timings)}ステップ {total:.1f}秒",
            style="dim",
        )
    )


class _Stepper:
    def __init__(self, console: Console, run: DemoRun) -> None:
        self.console, self.run = console, run

    @contextmanager
    def __call__(self, title: str) -> Iterator[None]:
        started = time.perf_counter()
        self.console.print(Text(f"▶ {title}", style="bold"))
        yield
        elapsed = time.perf_counter() - started
        self.run.timings.append((title, elapsed))
        self.console.print(Text.assemble("  ", ("✓", "green"), f" {elapsed:.1f}s"))
