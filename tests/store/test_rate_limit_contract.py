"""The rate-limit port (``store.rate_limits``) over every adapter: sliding windows, the limiter on top, several
containers sharing one store, windows allowing more calls than the DynamoDB item keeps exactly, and what the
DynamoDB item costs (issue 14, point 6).

The promise, whichever the adapter: no window's length of time, wherever it starts, holds more than its limit of
calls let through. SQLite keeps every call (exact); DynamoDB keeps the latest ``EXACT_CALLS`` exactly and older ones
per bucket of 1/``LOG_BUCKETS`` of the longest window, so a larger window may wait up to one bucket longer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sdk.clock import FakeClock
from sdk.freee.ratelimit import EXACT_CALLS, LOG_BUCKETS, RateLimiter, RateLimitStore, Window, shortest_span
from sdk.store import Store
from tests.conftest import TABLE
from tests.store.records import NOW


class Recording:
    """A rate-limit port that remembers when it let each call through."""

    def __init__(self, inner: RateLimitStore, granted: list[float], lock: threading.Lock) -> None:
        self.inner, self.granted, self.lock = inner, granted, lock

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        wait = self.inner.try_acquire(key, windows, now)
        if wait <= 0:
            with self.lock:
                self.granted.append(now)
        return wait


def assert_within(stamps: list[float], windows: Sequence[Window]) -> None:
    """No ``length`` seconds, wherever they start, hold more than ``limit`` of the ``stamps``."""
    stamps = sorted(stamps)
    for limit, length in windows:
        for i in range(len(stamps) - limit):
            assert stamps[i + limit] - stamps[i] >= length - 1e-6, f"{limit + 1} calls within {length} s"


def test_sliding_window_admits_the_limit_then_says_how_long_to_wait(store: Store) -> None:
    port = store.rate_limits
    windows = [(3, 60.0)]
    assert [port.try_acquire("k", windows, t) for t in (0.0, 1.0, 2.0)] == [0, 0, 0]
    assert port.try_acquire("k", windows, 3.0) == pytest.approx(57.0)
    assert port.try_acquire("other", windows, 3.0) == 0  # keys are separate
    assert port.try_acquire("k", windows, 60.5) == 0  # the call at 0.0 left the window
    assert port.try_acquire("k", windows, 60.6) == pytest.approx(0.4)


def test_every_window_must_have_room(store: Store) -> None:
    port = store.rate_limits
    windows = [(2, 10.0), (3, 100.0)]
    assert port.try_acquire("k", windows, 0.0) == 0
    assert port.try_acquire("k", windows, 1.0) == 0
    assert port.try_acquire("k", windows, 2.0) == pytest.approx(8.0)  # minute-like window full
    assert port.try_acquire("k", windows, 10.5) == 0
    assert port.try_acquire("k", windows, 20.0) == pytest.approx(80.0)  # hour-like window full


def test_real_clock_timestamps_keep_their_precision(store: Store) -> None:
    port = store.rate_limits
    start = NOW.timestamp() + 0.123456
    windows = [(1, 60.0)]
    assert port.try_acquire("k", windows, start) == 0
    assert port.try_acquire("k", windows, start + 59.5) == pytest.approx(0.5, abs=1e-6)
    assert port.try_acquire("k", windows, start + 60.0) == pytest.approx(0.0, abs=1e-6)


def test_limiter_spaces_calls_to_the_bound(store: Store) -> None:
    clock = FakeClock()
    limiter = RateLimiter(store.rate_limits, clock, [(10, 60.0)], margin=0)
    start = clock.monotonic()
    for _ in range(40):
        limiter.acquire()
    assert clock.monotonic() - start == pytest.approx((40 / 10 - 1) * 60, abs=0.1)


def test_limiter_shared_by_threads_never_exceeds_the_window(store: Store) -> None:
    clock = FakeClock()
    granted: list[float] = []
    recording = Recording(store.rate_limits, granted, threading.Lock())
    # the long second window keeps every call in the log: a thread may ask with a `now` that others' sleeps have
    # already moved past, and must still see the calls before it
    limiter = RateLimiter(recording, clock, [(5, 60.0), (1000, 86400.0)], margin=0)

    def work() -> None:
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = sorted(granted)
    assert len(stamps) == 20
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 60.0 - 1e-6  # never 6 calls inside one 60 s window


@pytest.fixture
def another_container(store: Store, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A second store on the same database, as another worker process or Lambda container opens it."""
    if request.node.callspec.params["store"] == "sqlite":
        from sdk.store.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "store.sqlite")
    from sdk.store.dynamodb import DynamoStore

    return DynamoStore(TABLE, resource=request.getfixturevalue("dynamodb"))


def test_workers_in_two_containers_never_exceed_any_window_together(store: Store, another_container: Store):
    clock = FakeClock()
    granted: list[float] = []
    lock = threading.Lock()
    # the 100-call window is more than the DynamoDB item keeps exactly; the day-long one keeps a thread that asks
    # with a `now` others' sleeps have moved past from finding the calls before it forgotten (in every adapter)
    windows = [(5, 60.0), (80, 600.0), (10_000, 86_400.0)]
    assert windows[1][0] > EXACT_CALLS

    def work(container: Store) -> None:
        limiter = RateLimiter(Recording(container.rate_limits, granted, lock), clock, windows, margin=0)
        for _ in range(30):
            limiter.acquire()

    threads = [threading.Thread(target=work, args=(s,)) for s in (store, another_container) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(granted) == 120
    assert_within(granted, windows)


def test_a_window_larger_than_the_exact_calls_waits_at_most_one_bucket_longer(store: Store):
    clock = FakeClock()
    granted: list[float] = []
    windows = [(3, 10.0), (EXACT_CALLS + 36, 600.0)]
    limiter = RateLimiter(Recording(store.rate_limits, granted, threading.Lock()), clock, windows, margin=0)
    calls = 2 * windows[1][0] + 1
    start = clock.monotonic()
    for _ in range(calls):
        limiter.acquire()
    elapsed = clock.monotonic() - start
    assert_within(granted, windows)
    bound = shortest_span(calls, windows)
    assert bound - 0.1 <= elapsed <= bound + 2 * 600.0 / LOG_BUCKETS + 0.1  # at most a bucket per full window


# ------------------------------------------------------------------------------------- the DynamoDB item


@pytest.fixture
def table(dynamodb: Any) -> Any:
    from sdk.store.dynamodb import create_table

    return create_table(dynamodb, TABLE)


def rate_item(table: Any) -> dict[str, Any]:
    return dict(table.get_item(Key={"pk": "RATE#freee", "sk": "RATE"}, ConsistentRead=True)["Item"])


def test_dynamodb_rate_item_stays_under_one_write_unit_whatever_the_hourly_limit(table: Any):
    """freee's minute at the most the settings allow (EXACT_CALLS) and an hour of any size: every write is one
    write unit (≤ 1 KB), where the item of every call time grew by ~11 bytes a call up to the hourly limit."""
    from sdk.store.dynamodb import DynamoRateLimitStore, item_size

    clock = FakeClock()
    limiter = RateLimiter(DynamoRateLimitStore(table), clock, [(EXACT_CALLS, 60.0), (10**9, 3600.0)])
    sizes = []
    for _ in range(3 * EXACT_CALLS):  # three minutes' worth: calls leave the exact tail for the buckets
        limiter.acquire()
        clock.advance(0.25)
        sizes.append(item_size(rate_item(table)))
    assert max(sizes) <= 1024
    item = rate_item(table)
    assert len(item["recent"]) == EXACT_CALLS
    assert 0 < len(item["counts"]) <= LOG_BUCKETS + 2


def test_dynamodb_rate_item_of_the_earlier_shape_is_read_and_rewritten_small(table: Any):
    from decimal import Decimal

    from sdk.store.dynamodb import DynamoRateLimitStore, item_size

    windows = [(30, 61.0), (1500, 3601.0)]
    now = 1_795_597_200.0
    earlier = [now - 3500 + 2.3 * n + 0.123457 for n in range(1500)]  # a full hour: every call time, ~16 KB
    table.put_item(
        Item={"pk": "RATE#freee", "sk": "RATE", "calls": [Decimal(repr(t)) for t in earlier], "version": 7}
    )
    assert item_size(rate_item(table)) > 15_000
    port = DynamoRateLimitStore(table)
    oldest_leaves = earlier[0] + 3601.0
    assert port.try_acquire("freee", windows, now) == pytest.approx(oldest_leaves - now)  # the same answer
    at = earlier[0] + 3601.0
    assert port.try_acquire("freee", windows, at) == 0
    item = rate_item(table)
    assert "calls" not in item
    assert int(item["version"]) == 8
    assert item_size(item) <= 1024
    assert port.try_acquire("freee", windows, at + 0.001) > 0  # the hour is still full
