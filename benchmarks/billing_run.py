"""A month-end billing pass (``run_billing``) of N due invoices (default 2,000): 1,900 subscriptions billed per deal
and 100 companies billed consolidated (合算請求, closing at month end, each with 5 deals: 3 monthly subscriptions and
2 deals won once in the month), under freee's per-minute and per-hour limits as the settings give them.

The pass runs on the closing date, 2027-01-31. Every company is an existing freee partner (linked in the store and
shown on the company), as at any month end after the first; the subscriptions start on the closing date (billed in
advance) and the consolidated companies' deals were won earlier in January, so the pass has exactly one invoice
per subscription and one per company to issue. Seeding: the first deal of each kind is enrolled by the won trigger
itself (``create_invoice_for_deal``: its schedule stored, nothing due yet), every other one gets the same rows
written straight into the store (its own line item in the plan) and the same values on the deal in the HubSpot
sandbox (in-process), so seeding costs a few store writes a deal, not the won trigger's HubSpot round trips. The
deals are won in a shuffled order, so the pass (in deal id order) meets each consolidated company at its first deal
somewhere in the run; ``--bunched`` wins the consolidated companies' deals last, and their 20 HubSpot calls per
invoice (each deal read again and written back) then come together at the end, where HubSpot's 100 calls in 10 s
slow the last minutes (ratio 1.036, against 1.011 shuffled, on 2026-12-02).

Time: processing at real speed, waiting skipped (:class:`SkippingClock`). Every wait of the pass (the rate
limiter's, a back-off) moves the shared clock on at once, everything else takes the real time it takes, so the
elapsed time on the clock is what the pass would take for real (the waits plus the work) without spending an hour
of wall time; a scaled clock (``freee_rate_limit.py``) would multiply the work too, and this pass's work (HubSpot
reads over loopback, SQLite commits) is ~0.1 s a deal. The freee sandbox enforces the same limits on the same
clock and answers 429 past them.

Reports: freee calls by kind and the calls through the rate limiter (the ones freee counts), HubSpot calls by kind,
the elapsed clock time against the shortest span those calls allow under both windows
(:func:`sdk.freee.ratelimit.shortest_span`: past the hour's 1,500 calls the hour's wait comes on top of the
minutes), the time waited, the work's real seconds, and the peak resident memory of the process during the pass
(the sandboxes and the seeded world included, so an upper bound for the pass alone; tracemalloc would slow the work
2.5-fold). Every subscription must end with exactly one invoice for its period and every company with exactly one
consolidated invoice for the window, holding each of its deals: the script exits 1 otherwise (after writing its
JSON with the problems).
Targets (issue 17): ratio ≤ 1.1, peak memory ≤ 200 MB. Writes ``benchmarks/billing_run.json``.
Usage: ``python benchmarks/billing_run.py [--per-deal 1900] [--companies 500] [--consolidated 100]
[--deals-per-company 5] [--bunched]``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _loopback import path_pattern
from _record import load, record, stamp
from _seed import UNLIMITED, companies_with_partners

from local.world import World, build_world
from sandbox import PORTAL_ID
from sdk.billing.units import parse_marker
from sdk.freee.ratelimit import RateLimiter, Window, shortest_span
from sdk.store import ScheduleRow
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.billing import run_billing
from sdk.usecases.create_invoice import Result, create_invoice_for_deal

CLOSING = date(2027, 1, 31)
WON = datetime(2027, 1, 20, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo: the deals are won (and enrolled) on 1/20
RUN = datetime(2027, 1, 31, 1, 0, tzinfo=UTC)  # the pass on the closing date, 10:00 in Tokyo
TERMS = "month_end_next_month_end"
SUBSCRIPTIONS_PER_COMPANY = 3  # of a consolidated company's deals; the others are won once in the month


class SkippingClock:
    """Real time from ``start``, every wait of the measuring thread skipped: ``sleep`` moves the clock on at once
    (the waits are counted in ``slept``), anything else takes the time it really takes. Another thread's sleep
    (none in this benchmark) waits for real, so only the pass's own waits are skipped."""

    def __init__(self, start: datetime) -> None:
        self.start, self.slept = start, 0.0
        self._origin = time.perf_counter()
        self._owner = threading.current_thread()
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return time.perf_counter() - self._origin + self.slept

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if threading.current_thread() is not self._owner:
            time.sleep(seconds)
            return
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.slept += seconds

    def advance_to(self, instant: datetime) -> None:
        self.advance((instant - self.now()).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-deal", type=int, default=1900, help="subscriptions billed per deal")
    parser.add_argument("--companies", type=int, default=500, help="companies the subscriptions belong to")
    parser.add_argument("--consolidated", type=int, default=100, help="companies billed consolidated")
    parser.add_argument("--deals-per-company", type=int, default=5, help="deals of each consolidated company")
    parser.add_argument(
        "--bunched", action="store_true", help="the consolidated companies' deals won last (so billed last)"
    )
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # a line per invoice would bury the figures
    load_before = load()
    clock = SkippingClock(WON)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "store.sqlite")
        world = build_world(store, clock=clock)
        try:
            seeding = time.perf_counter()
            seeded = seed(world, args)
            seed_seconds = time.perf_counter() - seeding
            clock.advance_to(RUN)
            windows: tuple[Window, ...] = (
                (world.settings.freee_rate_limit_per_minute, 60.0),
                (world.settings.freee_rate_limit_per_hour, 3600.0),
            )
            world.freee_box.state.limiter.windows = windows  # freee's limits (the settings') from here on
            world.freee_box.state.limiter.reset()  # seeding is not part of what freee has seen this hour
            limiter = RateLimiter(store.rate_limits, clock, windows, key="freee")
            acquired: list[float] = []  # the clock when each call was let through
            acquire = limiter.acquire

            def counted_acquire(**kwargs: Any) -> float:
                waited = acquire(**kwargs)
                acquired.append(clock.monotonic())
                return waited

            limiter.acquire = counted_acquire  # type: ignore[method-assign]
            world.freee.limiter = limiter
            statuses: Counter[int] = Counter()
            world.freee.session.hooks["response"].append(lambda r, *a, **k: statuses.update([r.status_code]))
            world.freee_calls.clear()
            world.counter.reset()
            slept_before = clock.slept
            rss_before, peak_reset = rss_mb(), reset_peak_rss()
            started, real_started, cpu_started = clock.monotonic(), time.perf_counter(), time.process_time()
            summary = run_billing(world.context(), CLOSING)
            elapsed = clock.monotonic() - started
            real, cpu = time.perf_counter() - real_started, time.process_time() - cpu_started
            peak = peak_rss_mb()
            waited = clock.slept - slept_before
            problems = check(world, seeded)
            invoices = len(world.invoices())
        finally:
            world.close()
    calls = len(acquired)
    bound = shortest_span(calls, windows)
    hubspot = world.counter.snapshot()
    due = args.per_deal + args.consolidated
    result = {
        "benchmark": f"month-end billing pass of {due} invoices ({args.per_deal} subscriptions billed per deal, "
        f"{args.consolidated} consolidated companies × {args.deals_per_company} deals), freee "
        f"{windows[0][0]}/min and {windows[1][0]}/h, work at real speed, waits skipped",
        **stamp(load_before),
        "closing_date": CLOSING.isoformat(),
        "per_deal_subscriptions": args.per_deal,
        "per_deal_companies": args.companies,
        "consolidated_companies": args.consolidated,
        "deals_per_consolidated_company": args.deals_per_company,
        "order": "consolidated deals won last" if args.bunched else "deals won in a shuffled order",
        "due_invoices": due,
        "ok": not problems,
        "problems": problems,
        "summary": {k: v for k, v in summary.as_dict().items() if k not in ("planned", "problems")},
        "pass_problems": summary.problems[:10],
        "invoices_in_freee": invoices,
        "freee_calls": calls,
        "freee_calls_per_invoice": round(calls / max(1, summary.invoices_created), 3),
        "freee_calls_by_kind": dict(
            Counter(f"{c.split(' ', 1)[0]} {path_pattern(c.split(' ', 1)[1])}" for c in world.freee_calls)
        ),
        "freee_429": statuses[429],
        "freee_limits": {"per_minute": windows[0][0], "per_hour": windows[1][0]},
        "hubspot_calls": hubspot,
        "hubspot_calls_total": sum(v for k, v in hubspot.items() if k != "http.retry"),
        "elapsed_clock_s": round(elapsed, 1),
        "rate_limit_bound_s": round(bound, 1),
        "ratio": round(elapsed / bound, 3) if bound else None,
        "target_ratio": 1.1,
        # where the time beyond the bound went: the limiter's 1 s margin on each window (its own shortest span),
        # the work before the first call, the calls let through later than that span, the work after the last one
        "limiter_bound_s": round(shortest_span(calls, limiter.windows), 1),
        "first_call_at_s": round(acquired[0] - started, 1) if acquired else None,
        "last_call_at_s": round(acquired[-1] - started, 1) if acquired else None,
        "after_last_call_s": round(started + elapsed - acquired[-1], 1) if acquired else None,
        "waited_clock_s": round(waited, 1),
        "work_real_s": round(real, 1),
        "work_cpu_s": round(cpu, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_rss_of": "the pass" if peak_reset else "the whole process (seeding included)",
        "rss_before_pass_mb": round(rss_before, 1),
        "target_memory_mb": 200,
        "seed_real_seconds": round(seed_seconds, 1),
    }
    record("billing_run", result)
    if problems:
        sys.exit(1)


# ----------------------------------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else 0.0


def reset_peak_rss() -> bool:
    """Start the process's high-water mark afresh (Linux: ``/proc/self/clear_refs``); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """The most resident memory since :func:`reset_peak_rss` (else since the process started)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    return kb / 1024


# ---------------------------------------------------------------------------------------------------- seeding


def seed(world: World, args: argparse.Namespace) -> dict[str, Any]:
    """The companies (freee partners already), the deals won on 1/20 and enrolled; returns what the pass must
    invoice: ``per_deal`` (deal ids) and ``consolidated`` (company id → its deal ids)."""
    hubspot = world.hubspot_box
    world.freee_box.state.limiter.windows = UNLIMITED
    companies = companies_with_partners(world, args.companies, "株式会社サブスク")
    for company, partner_id in companies:
        hubspot.update("companies", company, freee_partner_id=str(partner_id))
    grouped = companies_with_partners(world, args.consolidated, "株式会社まとめ")
    for company, partner_id in grouped:
        hubspot.update(
            "companies",
            company,
            freee_partner_id=str(partner_id),
            freee_billing_mode="consolidated",
            freee_closing_day="month_end",
            freee_payment_terms=TERMS,
        )
    # (kind, company, line items, name, close date, consolidated?) of every deal, in the order they are won
    wanted: list[tuple[str, str, list[dict[str, str]], str, str, bool]] = []
    for n in range(args.per_deal):
        items = [
            subscription_item(50_000 + 100 * (n % 50), CLOSING),
            {"name": "初期設定", "quantity": "1", "price": "100000"},
        ]
        company = companies[n % len(companies)][0]
        wanted.append(("per_deal", company, items, f"クラウド勤怠 Pro {n}", "2027-01-20", False))
    for c, (company, _) in enumerate(grouped):
        for k in range(args.deals_per_company):
            if k < SUBSCRIPTIONS_PER_COMPANY:
                items = [subscription_item(30_000 + 1_000 * k, date(2027, 1, 1))]
                wanted.append(
                    (f"subscription{k}", company, items, f"保守サブスク{c}-{k}", "2027-01-01", True)
                )
            else:
                items = [
                    {"name": "導入研修", "quantity": "2", "price": str(30_000 + 100 * c)},
                    {"name": "お弁当", "quantity": "10", "price": "1000", "freee_tax_rate": "8_reduced"},
                ]
                wanted.append((f"once{k}", company, items, f"導入研修{c}-{k}", "2027-01-15", True))
    if (
        not args.bunched
    ):  # deals won over time: the pass (in deal id order) meets a company's first deal anywhere
        random.Random(17).shuffle(wanted)
    enrolled = Enrolment(world)
    per_deal: list[str] = []
    consolidated: dict[str, list[str]] = {company: [] for company, _ in grouped}
    with hubspot.webhooks_lost():
        for kind, company, items, name, closed, grouped_deal in wanted:
            deal = enrolled.deal(kind, company, items, name, closed)
            (consolidated[company] if grouped_deal else per_deal).append(deal)
    return {"per_deal": per_deal, "consolidated": consolidated, "enrolled_by_trigger": enrolled.by_trigger}


def subscription_item(price: int, start: date) -> dict[str, str]:
    return {
        "name": "クラウド勤怠 Pro" if start == CLOSING else "保守サポート",
        "quantity": "1",
        "price": str(price),
        "recurringbillingfrequency": "monthly",
        "hs_recurring_billing_period": "P12M",
        "hs_recurring_billing_start_date": start.isoformat(),
    }


class Enrolment:
    """Deals won and enrolled: the first of each kind by the won trigger, the others given the same rows."""

    def __init__(self, world: World) -> None:
        self.world = world
        # kind → (its schedule row, what the trigger wrote on the deal, its line items' ids)
        self.templates: dict[str, tuple[ScheduleRow, dict[str, str], list[str]]] = {}
        self.by_trigger = 0

    def deal(self, kind: str, company: str, items: list[dict[str, str]], name: str, closed: str) -> str:
        world, hubspot = self.world, self.world.hubspot_box
        item_ids = [hubspot.create_line_item(**item) for item in items]
        deal = hubspot.create_deal(
            company=company,
            line_items=item_ids,
            dealname=name,
            closedate=f"{closed}T03:00:00Z",
            pipeline="default",
            dealstage="closedwon",
        )
        template = self.templates.get(kind)
        if template is None:  # the won trigger's own enrolment, nothing due before the closing date
            outcome = create_invoice_for_deal(world.context(), PORTAL_ID, deal, "webhook")
            if outcome.result is not Result.SCHEDULED:
                raise SystemExit(f"seeding: the won trigger answered {outcome.result} for a {kind} deal")
            schedule = world.store.get_schedule(PORTAL_ID, deal)
            row = world.store.get_ledger(PORTAL_ID, deal)
            if schedule is None or row is None:
                raise SystemExit(f"seeding: the won trigger stored no schedule for a {kind} deal")
            self.templates[kind] = (schedule, dict(row.written), item_ids)
            self.by_trigger += 1
            return deal
        schedule, written, template_items = template
        own = dict(zip(template_items, item_ids, strict=True))
        plan = dict(schedule.plan, cycles=[[own[str(i)], e, c] for i, e, c in schedule.plan["cycles"]])
        now, store = world.clock.now(), world.store
        token = f"seed-{deal}"
        store.claim(PORTAL_ID, deal, token, now, now + timedelta(minutes=5))
        store.record_scheduled(PORTAL_ID, deal, token, now)
        store.save_schedule(replace(schedule, deal_id=deal, company_id=company, plan=plan, version=0), now)
        store.record_written(PORTAL_ID, deal, written, now)
        hubspot.update("deals", deal, **written)
        return deal


# ----------------------------------------------------------------------------------------------------- checks


def check(world: World, seeded: dict[str, Any]) -> list[str]:
    """Exactly one invoice per subscription's period and per company's window, each window holding its deals."""
    problems: list[str] = []
    found: Counter[str] = Counter()
    for invoice in world.invoices():
        marker = parse_marker(invoice.get("memo"))
        if marker is None:
            problems.append(f"invoice {invoice['id']} has no marker")
        else:
            found[marker[1]] += 1
    wanted = [f"{d}:1" for d in seeded["per_deal"]]
    wanted += [f"c{c}:{CLOSING.isoformat()}" for c in seeded["consolidated"]]
    wrong = {k: found[k] for k in wanted if found[k] != 1}
    extra = set(found) - set(wanted)
    if wrong:
        problems.append(f"{len(wrong)} units without exactly one invoice: {dict(list(wrong.items())[:10])}")
    if extra:
        problems.append(f"{len(extra)} invoices for units not due: {sorted(extra)[:10]}")
    for company, deals in seeded["consolidated"].items():
        row = world.store.get_ledger(PORTAL_ID, f"c{company}:{CLOSING.isoformat()}")
        charged = {key.split(":", 1)[0] for key, _ in row.charges} if row is not None else set()
        if charged != set(deals):
            problems.append(f"company {company}: its window charged {sorted(charged)}, not {sorted(deals)}")
            break
    return problems


if __name__ == "__main__":
    main()
