"""What the shared freee rate limiter costs on DynamoDB per freee call, before and after issue 14 (point 6).

Both adapters of the rate-limit port take the same calls, as fast as freee's limits allow (30 a minute and 1,500
an hour, with the limiter's one-second margin; call times to the microsecond, as a real clock gives them), for
``--calls`` calls (3,000 by default: two hours, so the hour's log is full for the second one):

* before: the item of every call time inside the hour (``LogItemRateLimitStore``, the adapter as it was until
  commit 673baa1, copied here so it can still be measured), rewritten in full for every call. It runs on a
  dictionary standing for the table (moto takes a third of a second per request on a 15 KB item: an hour's
  calls would take half an hour); what it costs depends only on the items it reads and writes;
* after: :class:`sdk.store.dynamodb.DynamoRateLimitStore` (a :class:`~sdk.freee.ratelimit.CompactCallLog`) on
  a moto table, conditional writes and all.

Every item read and written is sized by DynamoDB's rules (:func:`sdk.store.dynamodb.item_size`) and priced as
DynamoDB bills it: a write one unit per started KB of the item, a strongly consistent read one unit per started
4 KB. The figures are per freee call let through, the reads of the asks told to wait included.
Usage: ``python benchmarks/dynamodb_rate_limit.py [--calls 3000]``; writes ``benchmarks/dynamodb_rate_limit.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from _record import record

from sdk.clock import FakeClock
from sdk.freee.ratelimit import FREEE_WINDOWS, RateLimiter, RateLimitStore, Window, wait_seconds
from sdk.store.dynamodb import DynamoRateLimitStore, create_table, item_size

KEY = {"pk": "RATE#freee", "sk": "RATE"}


class LogItemRateLimitStore:
    """The DynamoDB rate-limit adapter as it was before issue 14: one item holding every call time inside the
    longest window, rewritten with a condition on its version (the retries on a lost race left out: one caller)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        from decimal import Decimal

        longest = max(length for _, length in windows)
        item = self._table.get_item(Key=KEY, ConsistentRead=True).get("Item")
        times = sorted(float(t) for t in (item or {}).get("calls", []) if float(t) > now - longest)
        wait = wait_seconds(times, windows, now)
        if wait > 0:
            return wait
        times.append(now)
        self._table.put_item(
            Item={
                **KEY,
                "calls": [Decimal(repr(float(t))) for t in sorted(times)],
                "version": int(item["version"]) + 1 if item else 1,
            }
        )
        return 0.0


class DictTable:
    """The two requests the earlier adapter makes, on a dictionary (it wrote without a condition: one caller)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def get_item(self, *, Key: dict[str, str], ConsistentRead: bool) -> dict[str, Any]:
        item = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": dict(item)} if item is not None else {}

    def put_item(self, *, Item: dict[str, Any]) -> dict[str, Any]:
        self.items[(Item["pk"], Item["sk"])] = dict(Item)
        return {}


class MeteredTable:
    """A boto3 Table that sizes every item it reads and writes."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.read_sizes: list[int] = []
        self.write_sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def get_item(self, **kwargs: Any) -> Any:
        answer = self._table.get_item(**kwargs)
        self.read_sizes.append(item_size(answer.get("Item") or {}))
        return answer

    def put_item(self, **kwargs: Any) -> Any:
        answer = self._table.put_item(**kwargs)
        self.write_sizes.append(item_size(kwargs["Item"]))
        return answer


def measure(make: Any, raw_table: Any, calls: int, seed: int) -> dict[str, Any]:
    table = MeteredTable(raw_table)
    store: RateLimitStore = make(table)
    clock, rng = FakeClock(), random.Random(seed)
    limiter = RateLimiter(store, clock, FREEE_WINDOWS)
    started = time.perf_counter()
    for _ in range(calls):
        limiter.acquire()
        clock.advance(round(rng.uniform(0.0, 0.2), 6))  # a call takes a moment; times to the microsecond
    writes = [math.ceil(size / 1024) for size in table.write_sizes]
    reads = [max(1, math.ceil(size / 4096)) for size in table.read_sizes]
    last = writes[-min(len(writes), 1500) :]  # with 3,000 calls: the second hour, its log full
    return {
        "calls": len(table.write_sizes),
        "asks": len(table.read_sizes),
        "item_bytes_max": max(table.write_sizes),
        "item_bytes_mean": round(statistics.fmean(table.write_sizes)),
        "write_units_per_call_mean": round(sum(writes) / len(writes), 2),
        "write_units_per_call_max": max(writes),
        "write_units_per_call_last_1500_calls": round(statistics.fmean(last), 2),
        "read_units_per_call_mean": round(sum(reads) / len(writes), 2),
        "read_units_per_call_max": max(reads),
        "clock_seconds": round(clock.monotonic(), 1),
        "real_seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", "ap-northeast-1"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ):
        os.environ[name] = value  # moto only: nothing of this machine's AWS set-up is read or reached
    os.environ.pop("AWS_PROFILE", None)
    import boto3
    from moto import mock_aws

    before = measure(LogItemRateLimitStore, DictTable(), args.calls, args.seed)
    with mock_aws():
        table = create_table(boto3.resource("dynamodb"), "hubspot-freee-bench")
        after = measure(DynamoRateLimitStore, table, args.calls, args.seed)
    result = {
        "benchmark": "DynamoDB cost of the shared freee rate limiter per freee call, before and after (items sized "
        "by DynamoDB's rules: a write 1 unit per started KB, a strongly consistent read 1 unit per started 4 KB)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} python {platform.python_version()}",
        "calls": args.calls,
        "windows": [list(w) for w in FREEE_WINDOWS],
        "limiter_margin_s": 1.0,
        "before": before,
        "after": after,
    }
    record("dynamodb_rate_limit", result)


if __name__ == "__main__":
    main()
