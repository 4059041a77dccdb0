"""The reconciliation sweep over N won deals (default 10,000) of which 1 % were never invoiced (no ledger row, no
webhook), under HubSpot's search rate (4 a second) and freee's 30 list calls a minute, on the sandboxes' scaled clock.

Reports the HubSpot calls (searches, writes) and freee calls against the stated budget — HubSpot 1 + floor(N/200) + 1
searches, freee ceil(M/100) + 1 list calls for M invoiced deals billed within one stretch — the elapsed sandbox time
against the rate-limit bound (the later of: ceil(N/200) searches at 4 a second, ``shortest_span`` of the freee calls
under 30 a minute), and whether exactly the missing deals were queued. Writes ``benchmarks/sweep.json``.
Usage: ``python benchmarks/sweep.py [--deals 10000] [--missing 0.01] [--speed 4]``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _record import machine, record
from _seed import companies_with_partners, freee_session, invoiced_deal

from local.world import build_world
from sandbox import PORTAL_ID
from sdk.clock import ScaledClock
from sdk.freee.ratelimit import FREEE_WINDOWS, RateLimiter, shortest_span
from sdk.queue.sqlite import SQLiteQueue
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.sweep import sweep

TODAY = date(2026, 11, 25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--missing", type=float, default=0.01)
    parser.add_argument("--speed", type=float, default=4.0, help="sandbox seconds per real second")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    rng = random.Random(16)
    clock = ScaledClock(args.speed, start=datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "store.sqlite")
        queue = SQLiteQueue(Path(tmp) / "queue.sqlite", clock=clock)
        world = build_world(store, clock=clock)
        try:
            seeding = time.perf_counter()
            missing = seed(world, args, rng)
            seed_seconds = time.perf_counter() - seeding
            world.freee_box.state.limiter.windows = FREEE_WINDOWS  # freee's real limits from here on
            world.freee_box.state.limiter.reset()
            world.freee.limiter = RateLimiter(store.rate_limits, clock, FREEE_WINDOWS, key="freee")
            world.freee_calls.clear()
            world.counter.reset()
            started, real_started = clock.monotonic(), time.perf_counter()
            report = sweep(world.context(), queue)
            elapsed, real = clock.monotonic() - started, time.perf_counter() - real_started
            queued = sorted(
                m.body["deal_id"] for m in queue.receive(max_messages=10_000, visibility_timeout=60)
            )
        finally:
            world.close()
    freee_calls = sum(Counter(world.freee_calls).values())
    hubspot = world.counter.snapshot()
    searches = hubspot.get("deals.search", 0)
    invoiced = args.deals - len(missing)
    search_bound = (searches - 1) / world.settings.hubspot_search_per_second if searches else 0.0
    bound = max(search_bound, shortest_span(freee_calls))
    budget_hubspot = 1 + args.deals // 200 + 1  # pipelines, then pages until one is short (maybe empty)
    budget_freee = -(-invoiced // 100) + 1
    result = {
        "benchmark": f"reconciliation sweep of {args.deals} won deals, {args.missing:.0%} never invoiced, "
        f"HubSpot search 4/s, freee 30/min, scaled clock ×{args.speed}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "won_deals": report.won_deals,
        "missing": len(missing),
        "queued": len(report.queued),
        "queued_exactly_the_missing": queued == sorted(missing),
        "listed_or_repaired": len(report.items) - len(report.queued),
        "errors": report.errors,
        "hubspot_calls": hubspot,
        "hubspot_calls_total": sum(hubspot.values()),
        "hubspot_call_budget": budget_hubspot,
        "freee_calls": freee_calls,
        "freee_call_budget": budget_freee,
        "within_budget": sum(hubspot.values()) <= budget_hubspot and freee_calls <= budget_freee,
        "elapsed_sandbox_s": round(elapsed, 1),
        "rate_limit_bound_s": round(bound, 1),
        "search_bound_s": round(search_bound, 1),
        "freee_bound_s": round(shortest_span(freee_calls), 1),
        "ratio": round(elapsed / bound, 3) if bound else None,
        "target_ratio": 1.2,
        "real_seconds": round(real, 1),
        "seed_real_seconds": round(seed_seconds, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    record("sweep", result)


def seed(world, args, rng) -> list[str]:
    """Won deals in HubSpot; all but the missing ones invoiced in freee with their ledger rows and the values
    written on the deal (as the worker leaves them). Returns the missing deals' ids."""
    session = freee_session(world)
    companies = companies_with_partners(world, args.companies, "株式会社照合")
    missing_at = set(rng.sample(range(args.deals), round(args.deals * args.missing)))
    missing = []
    with world.hubspot_box.webhooks_lost():
        for n in range(args.deals):
            company, partner_id = companies[n % len(companies)]
            billing = TODAY - timedelta(days=rng.randrange(0, 50))
            deal = world.hubspot_box.create_deal(
                company=company,
                dealname=f"案件{n}",
                pipeline="default",
                dealstage="closedwon",
                closedate=f"{billing.isoformat()}T03:00:00Z",
            )
            if n in missing_at:
                missing.append(deal)
                continue
            invoice = invoiced_deal(
                world,
                session,
                deal=deal,
                company=company,
                partner_id=partner_id,
                billing=billing,
                unit_price=10000 + n,
            )
            written = {
                "freee_invoice_number": invoice["invoice_number"],
                "freee_sync_status": "created",
                "freee_amount_invoiced": str(invoice["total_amount"]),
            }
            world.store.record_written(PORTAL_ID, deal, written, world.clock.now())
            world.hubspot_box.update("deals", deal, **written)
    return missing


if __name__ == "__main__":
    main()
