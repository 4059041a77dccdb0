"""Payment sync of N open invoices (default 10,000) with 20 % of them changed since the last sync, under freee's
30/min limit on the sandboxes' scaled clock.

Reports freee calls (all list calls) against the budget ceil(N/100) + 2, HubSpot write calls, elapsed sandbox time
against the rate-limit bound (``shortest_span``: under 30 calls in any minute, the k-th call cannot start before
(k − 1) // 30 whole minutes), and peak memory. The measured sync is a steady-state one: a first sync (not
limited, not measured) has learned every invoice's accounting deal, as a scheduled sync would have.
Targets (issue 6): calls within budget, ratio ≤ 1.2, peak memory ≤ 200 MB. Writes ``benchmarks/payment_sync.json``.
Usage: ``python benchmarks/payment_sync.py [--invoices 10000] [--changed 0.2] [--speed 4]``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _record import machine, record
from _seed import UNLIMITED, companies_with_partners, freee_session, invoiced_deal

from local.world import build_world
from sdk.clock import ScaledClock
from sdk.freee.ratelimit import FREEE_WINDOWS, RateLimiter, shortest_span
from sdk.store.sqlite import SQLiteStore
from sdk.usecases.sync_payments import sync_payments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--changed", type=float, default=0.2)
    parser.add_argument("--speed", type=float, default=4.0, help="sandbox seconds per real second")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    rng = random.Random(7)
    clock = ScaledClock(args.speed, start=datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "store.sqlite")
        world = build_world(store, clock=clock)
        try:
            seeded = seed(world, args, rng)
            world.freee.limiter = RateLimiter(store.rate_limits, clock, UNLIMITED, key="seed")
            first = sync_payments(world.context())  # the state every later sync starts from
            assert first.ok, first.errors
            for invoice_id, total, billing in rng.sample(seeded, int(len(seeded) * args.changed)):
                world.freee_box.pay(invoice_id, rng.choice([total, total // 2]), billing + timedelta(days=20))
            world.freee_box.state.limiter.windows = FREEE_WINDOWS  # freee's real limits from here on
            world.freee_box.state.limiter.reset()  # seeding is not part of what freee has seen this hour
            world.freee.limiter = RateLimiter(store.rate_limits, clock, FREEE_WINDOWS, key="freee")
            world.freee_calls.clear()
            world.counter.reset()
            tracemalloc.start()
            started, real_started = clock.monotonic(), time.perf_counter()
            summary = sync_payments(world.context())
            elapsed, real = clock.monotonic() - started, time.perf_counter() - real_started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            world.close()
    calls = Counter(c for c in world.freee_calls)
    freee_calls = sum(calls.values())
    bound = shortest_span(freee_calls)  # the last call cannot start earlier under 30/min (sliding window)
    result = {
        "benchmark": f"payment sync of {args.invoices} open invoices, {args.changed:.0%} changed, freee 30/min, scaled clock ×{args.speed}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "checked": summary.checked,
        "changed_deals": summary.changed_deals,
        "changed_companies": summary.changed_companies,
        "errors": len(summary.errors),
        "freee_calls": freee_calls,
        "freee_calls_by_path": dict(calls),
        "freee_call_budget": -(-args.invoices // 100) + 2,
        "within_budget": freee_calls <= -(-args.invoices // 100) + 2,
        "hubspot_calls": world.counter.snapshot(),
        "elapsed_sandbox_s": round(elapsed, 1),
        "rate_limit_bound_s": round(bound, 1),
        "ratio": round(elapsed / bound, 3) if bound else None,
        "target_ratio": 1.2,
        "peak_python_memory_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target_memory_mb": 200,
        "real_seconds": round(real, 1),
    }
    record("payment_sync", result)


def seed(world, args, rng) -> list[tuple[int, int, date]]:
    """Companies, partners, deals, invoices in freee and their ledger rows, without going through the limits."""
    session = freee_session(world)
    companies = companies_with_partners(world, args.companies, "株式会社ベンチ")
    seeded = []
    for n in range(args.invoices):
        company, partner_id = companies[n % len(companies)]
        deal = world.hubspot_box.create_deal(
            company=company, dealname=f"案件{n}", pipeline="default", dealstage="closedwon"
        )
        billing = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 320))
        invoice = invoiced_deal(
            world,
            session,
            deal=deal,
            company=company,
            partner_id=partner_id,
            billing=billing,
            unit_price=10000 + n,
            written={"freee_payment_status": "unpaid"},
        )
        seeded.append((invoice["id"], int(invoice["total_amount"]), billing))
    return seeded


if __name__ == "__main__":
    main()
