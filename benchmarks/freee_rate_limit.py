"""300 calls through the freee client against the freee sandbox limited to 30/min, over loopback HTTP, on a
scaled clock shared by client and sandbox. Reports elapsed scaled time against the rate-limit bound.

Bound: with 30 calls per sliding minute, the 300th call cannot start before (300/30 - 1) × 60 s = 540 s.
Target (issue 3): ratio ≤ 1.15, zero failed calls, zero 429 reaching the caller.
Usage: ``python benchmarks/freee_rate_limit.py [--calls 300] [--speed 120]``; writes
``benchmarks/freee_rate_limit.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from _record import record

from local.loop import Loop
from sdk.clock import ScaledClock
from sdk.freee.ratelimit import shortest_span
from sdk.freee.tokens import TokenSet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--speed", type=float, default=120.0, help="scaled seconds per real second")
    args = parser.parse_args()
    os.environ.setdefault(
        "LOG_LEVEL", "WARNING"
    )  # before the first log line: one per call would bury the figures

    clock = ScaledClock(args.speed)
    statuses: list[int] = []
    limits = {
        "rate_limit_per_minute": 30,
        "rate_limit_per_hour": 1500,
    }  # freee's own (the settings' defaults)
    with tempfile.TemporaryDirectory() as tmp, Loop(clock, Path(tmp), freee=limits) as loop:
        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **k: statuses.append(r.status_code))
        context = loop.context(session=session)
        issued = loop.freee_box.issue_tokens()
        context.store.tokens.save_token(
            TokenSet(issued["access_token"], issued["refresh_token"], clock.now() + timedelta(hours=6)), None
        )
        client = context.freee
        failures = 0
        real_start, start = time.perf_counter(), clock.monotonic()
        for _ in range(args.calls):
            try:
                client.list_templates()
            except Exception:
                failures += 1
        elapsed = clock.monotonic() - start
        real = time.perf_counter() - real_start
    bound = shortest_span(args.calls)  # the last call cannot start earlier under 30/min (sliding window)
    result = {
        "benchmark": "freee client: calls under the 30/min limit, loopback HTTP, scaled clock",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} python {platform.python_version()}",
        "calls": args.calls,
        "speed": args.speed,
        "failed_calls": failures,
        "responses_429": statuses.count(429),
        "elapsed_scaled_s": round(elapsed, 1),
        "bound_s": bound,
        "ratio": round(elapsed / bound, 3),
        "target_ratio": 1.15,
        "real_seconds": round(real, 2),
    }
    record("freee_rate_limit", result)


if __name__ == "__main__":
    main()
