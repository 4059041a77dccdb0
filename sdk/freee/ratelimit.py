"""A client-side rate limiter shared by every worker, so together they stay under freee's limits.

freee allows 30 requests a minute and 1,500 an hour per company and app (invoice API). The limiter keeps a
sliding log of call times per key in a shared store and lets a call through only when every window has room;
otherwise it waits (on the injected clock) until the oldest call leaves the window. Time comes from
``clock.now()`` so workers in several processes, sharing the store, agree.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sdk.clock import Clock
from sdk.sqlite_db import SQLiteDB

Window = tuple[int, float]  # (calls allowed, window length in seconds)
FREEE_WINDOWS: tuple[Window, ...] = ((30, 60.0), (1500, 3600.0))


class RateLimitStore(Protocol):
    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        """Record a call at ``now`` and return 0 if every window has room; else record nothing and return how many
        seconds to wait before trying again."""
        ...


def wait_seconds(times: Sequence[float], windows: Sequence[Window], now: float) -> float:
    """Seconds until a call at ``now`` fits every window, given the sorted past call times."""
    wait = 0.0
    for limit, length in windows:
        recent = [t for t in times if t > now - length]
        if len(recent) >= limit:
            wait = max(wait, recent[len(recent) - limit] + length - now)
    return wait


def shortest_span(calls: int, windows: Sequence[Window] = FREEE_WINDOWS) -> float:
    """The least time from the first of ``calls`` requests to the start of the last one that keeps within every
    window (at most ``limit`` requests in any ``seconds``): the k-th call cannot start before
    ``(k - 1) // limit`` whole windows have passed. It is the bound the benchmarks compare elapsed time to."""
    if calls <= 1:
        return 0.0
    return max(((calls - 1) // limit) * seconds for limit, seconds in windows)


class MemoryRateLimitStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: dict[str, deque[float]] = {}

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        longest = max(length for _, length in windows)
        with self._lock:
            log = self._log.setdefault(key, deque())
            while log and log[0] <= now - longest:
                log.popleft()
            wait = wait_seconds(log, windows, now)
            if wait <= 0:
                log.append(now)
            return wait


class SQLiteRateLimitStore:
    def __init__(self, db: SQLiteDB | str | Path) -> None:
        self.db = db if isinstance(db, SQLiteDB) else SQLiteDB(db)
        self.db.script(
            "CREATE TABLE IF NOT EXISTS rate_calls (key TEXT NOT NULL, at REAL NOT NULL);"
            "CREATE INDEX IF NOT EXISTS rate_calls_key_at ON rate_calls (key, at);"
        )

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        longest = max(length for _, length in windows)
        with self.db.transaction(immediate=True) as db:
            db.execute("DELETE FROM rate_calls WHERE key = ? AND at <= ?", (key, now - longest))
            times = [r[0] for r in db.execute("SELECT at FROM rate_calls WHERE key = ? ORDER BY at", (key,))]
            wait = wait_seconds(times, windows, now)
            if wait <= 0:
                db.execute("INSERT INTO rate_calls (key, at) VALUES (?, ?)", (key, now))
            return wait


class RateLimitWait(Exception):
    """Room comes only after ``seconds``, more than the caller was willing to wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the rate limit frees a call in {seconds:.1f}s")


class RateLimiter:
    """Blocks until a call is allowed; ``acquire`` returns the seconds it waited (clock time).

    ``margin`` lengthens every window a little: a call reaches freee some time after it leaves here, and that
    delay varies, so two calls exactly one window apart here could land inside one window there.
    """

    def __init__(
        self,
        store: RateLimitStore,
        clock: Clock,
        windows: Sequence[Window] = FREEE_WINDOWS,
        key: str = "freee",
        *,
        margin: float = 1.0,
    ) -> None:
        if not windows or any(limit < 1 or length <= 0 for limit, length in windows) or margin < 0:
            raise ValueError(
                "each window needs a positive limit and length, and the margin cannot be negative"
            )
        self.store, self.clock, self.key = store, clock, key
        self.windows = tuple((limit, length + margin) for limit, length in windows)

    def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait for room and take it. With ``max_wait``, raise :class:`RateLimitWait` instead of waiting longer
        (a caller with a deadline, such as a workflow action, queues the work rather than block)."""
        waited = 0.0
        while True:
            wait = self.store.try_acquire(self.key, self.windows, self.clock.now().timestamp())
            if wait <= 0:
                return waited
            if max_wait is not None and waited + wait > max_wait:
                raise RateLimitWait(wait)
            # a hair past the edge, so the oldest call has really left the window when we look again
            step = wait + 0.001
            self.clock.sleep(step)
            waited += step
