"""Won-to-invoice latency on loopback, real clock: a deal moved to "closed won" in the HubSpot sandbox → its signed
webhook → the local server (``functions.app``, SQLite store and queue) → a worker thread (``run_worker``, poll
interval 50 ms) → freee sandbox (its real 30/min limit) → invoice number written back onto the deal.

For each deal the clock starts at ``move_deal_to_stage(deal, "closedwon")`` and stops when the deal's
``freee_invoice_number`` is visible in the HubSpot sandbox (its properties polled every 10 ms). The latency is
split into delivery (the sandbox's webhook dispatcher and the server's answer), queue wait (until a worker
received the message) and work (from there to the number on the deal). Deals are won one after another, each
only after the previous one is done and spaced so that freee's limit is never what they wait for (2.5 s per freee
call the previous deal made: under 25 calls in any minute); the limiter's waits are reported to show it.

Also: API calls per won deal, known partner (the company already linked to a freee partner) vs new partner
(the partner is looked up by code and created): HubSpot calls by the worker's client (``CallCounter``) and
freee requests (a response hook on the worker's session). The server reads the pipelines once, before the first
webhook (a warm server); so does the worker.
Target (issue 8): p50 ≤ 2 s. Writes ``benchmarks/won_to_invoice.json``.
Usage: ``python benchmarks/won_to_invoice.py [--deals 20] [--new-every 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections import Counter

from _loopback import loopback_stand, path_pattern, percentile
from _record import load, record, stamp

from sandbox import PORTAL_ID
from sdk.billing.units import parse_marker
from sdk.clock import SystemClock
from sdk.terms import tokyo_today

SECONDS_PER_FREEE_CALL = 2.5  # spacing between wins: 60 / 2.5 = 24 calls a minute, under freee's 30
READS = ("deals.get", "line_items.batch_read", "companies.get", "contacts.get")
WRITES = ("deals.batch_update", "companies.batch_update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=20)
    parser.add_argument("--new-every", type=int, default=5, help="every N-th deal is for a new company")
    parser.add_argument("--timeout", type=float, default=60.0, help="real seconds one deal may take")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    load_before = load()
    clock = SystemClock()
    rows: list[dict] = []
    with loopback_stand(clock) as stand:
        done = threading.Condition()
        stand.on_result = lambda r: _notify(done)
        stand.start_workers(1, poll_interval=0.05)
        [worker] = stand.workers
        contact = stand.contact()
        today = tokyo_today(clock.now()).isoformat()
        linked = [stand.company(n, linked=True) for n in range(max(1, args.deals // 2))]
        plan = []
        for n in range(args.deals):
            new = args.new_every > 0 and n % args.new_every == args.new_every - 1
            company = stand.company(1000 + n, linked=False) if new else linked[n % len(linked)]
            plan.append(("new" if new else "known", stand.deal(n, company, contact, today)))
        names = stand.settings.properties
        for kind, deal in plan:
            hub_before = worker.counter.snapshot()
            freee_before = len(worker.freee_calls)
            waits_before = len(worker.limiter_waits)
            started = time.perf_counter()
            stand.hubspot_box.move_deal_to_stage(deal, "closedwon")
            shown_at = None
            while time.perf_counter() - started < args.timeout:
                if stand.hubspot_box.properties_of("deals", deal).get(names.deal_invoice_number):
                    shown_at = time.perf_counter()
                    break
                time.sleep(0.01)
            if shown_at is None:
                raise SystemExit(f"deal {deal}: no invoice number after {args.timeout:.0f}s")
            with done:  # the worker has finished the message (company write-back included)
                done.wait_for(lambda d=deal: d in stand.timeline.done, timeout=args.timeout)
            hub = Counter(worker.counter.snapshot())
            hub.subtract(hub_before)
            freee = worker.freee_calls[freee_before:]
            line = stand.timeline
            rows.append(
                {
                    "deal": deal,
                    "partner": kind,
                    "won_to_invoice_s": shown_at - started,
                    "delivery_s": line.webhook_answered.get(deal, shown_at) - started,
                    "queue_wait_s": line.received.get(deal, shown_at)
                    - line.webhook_answered.get(deal, started),
                    "work_s": shown_at - line.received.get(deal, started),
                    "hubspot": {k: v for k, v in hub.items() if v},
                    "freee": [f"{c.method} {path_pattern(c.path)}" for c in freee],
                    "freee_statuses": [c.status for c in freee],
                    "limiter_wait_s": sum(worker.limiter_waits[waits_before:]),
                }
            )
            rest = started + SECONDS_PER_FREEE_CALL * max(1, len(freee)) - time.perf_counter()
            if rest > 0:
                time.sleep(rest)
        invoices = stand.freee_box.invoices()
        deliveries = stand.hubspot_box.deliveries
        server_calls = stand.server_counter.snapshot()
    per_deal = Counter(parse_marker(i.get("memo"))[1] for i in invoices if parse_marker(i.get("memo")))
    wrong = {d: per_deal[d] for _, d in plan if per_deal[d] != 1}
    if wrong:
        raise SystemExit(f"deals without exactly one invoice: {wrong}")
    result = {
        "benchmark": f"won deal → invoice number on the deal, {args.deals} deals one after another, loopback, real clock, freee 30/min",
        **stamp(load_before),
        "deals": args.deals,
        "known_partner_deals": sum(1 for r in rows if r["partner"] == "known"),
        "new_partner_deals": sum(1 for r in rows if r["partner"] == "new"),
        "won_to_invoice": _summary([r["won_to_invoice_s"] for r in rows]),
        "by_partner": {
            kind: _summary([r["won_to_invoice_s"] for r in rows if r["partner"] == kind])
            for kind in ("known", "new")
        },
        "split": {
            "delivery (won → webhook answered by the server)": _summary([r["delivery_s"] for r in rows]),
            "queue wait (answered → received by the worker)": _summary([r["queue_wait_s"] for r in rows]),
            "work (received → invoice number on the deal)": _summary([r["work_s"] for r in rows]),
        },
        "target_p50_s": 2.0,
        "poll_interval_s": 0.01,
        "worker_poll_interval_s": 0.05,
        "api_calls_per_won_deal": {kind: _calls(rows, kind) for kind in ("known", "new")},
        "freee_limiter_wait_s_total": round(sum(r["limiter_wait_s"] for r in rows), 3),
        "freee_429": sum(s == 429 for r in rows for s in r["freee_statuses"]),
        "webhook_deliveries": len(deliveries),
        "server_hubspot_calls": server_calls,
        "invoices": len(invoices),
        "per_deal": [
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in r.items()
                if k not in ("freee_statuses",)
            }
            for r in rows
        ],
        "portal": PORTAL_ID,
    }
    record("won_to_invoice", result, shown={k: v for k, v in result.items() if k != "per_deal"})


def _notify(condition: threading.Condition) -> None:
    with condition:
        condition.notify_all()


def _summary(samples: list[float]) -> dict[str, float | int]:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50_s": round(statistics.median(samples), 3),
        "p99_s": round(percentile(samples, 0.99), 3),
        "max_s": round(max(samples), 3),
        "min_s": round(min(samples), 3),
    }


def _calls(rows: list[dict], kind: str) -> dict:
    mine = [r for r in rows if r["partner"] == kind]
    if not mine:
        return {"deals": 0}
    n = len(mine)
    reads = sum(r["hubspot"].get(k, 0) for r in mine for k in READS)
    writes = sum(r["hubspot"].get(k, 0) for r in mine for k in WRITES)
    everything = sum(sum(r["hubspot"].values()) for r in mine)
    freee = Counter(c for r in mine for c in r["freee"])
    return {
        "deals": n,
        "hubspot_reads": round(reads / n, 2),
        "hubspot_writes": round(writes / n, 2),
        "hubspot_other": round((everything - reads - writes) / n, 2),
        "freee_calls": round(sum(freee.values()) / n, 2),
        "freee_calls_by_path": {k: round(v / n, 2) for k, v in freee.items()},
    }


if __name__ == "__main__":
    main()
