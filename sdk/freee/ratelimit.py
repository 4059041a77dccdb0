"""A client-side rate limiter shared by every worker, so together they stay under freee's limits.

freee allows 30 requests a minute and 1,500 an hour per company and app (invoice API). The limiter keeps a
sliding log of call times per key in a shared store and lets a call through only when every window has room;
otherwise it waits (on the injected clock) until the oldest call leaves the window. Time comes from
``clock.now()`` so workers in several processes, sharing the store, agree.

The guarantee, whichever the store: no ``length``-long stretch of time, wherever it starts, holds more than
``limit`` calls let through. So freee sees at most that many whether it counts in sliding windows (as the sandbox
does) or in fixed ones (a calendar minute or hour): a fixed-window counter on our side would let ``2 × limit``
calls through across a boundary (``limit`` at the end of one window, ``limit`` at the start of the next).

The memory store here and the SQLite one (:class:`sdk.store.sqlite.SQLiteRateLimitStore`) keep every call time
inside the longest window (exact). The DynamoDB one (:class:`sdk.store.dynamodb.DynamoRateLimitStore`) keeps a
:class:`CompactCallLog` (one small item, whatever the limits): the latest :data:`EXACT_CALLS` call times exactly
and older ones counted per bucket of 1/:data:`LOG_BUCKETS` of the longest window, as made no earlier than they were.
A window allowing at most :data:`EXACT_CALLS` calls (freee's minute: 30) is decided exactly as by the log; a
larger one (freee's hour: 1,500) may hold a call back up to one bucket (a minute of the hour) longer than the
exact log would, never less.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sdk.clock import Clock
from sdk.freee.errors import RateLimitWait

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
    window (at most ``limit`` requests in any ``seconds``). It is the bound the benchmarks compare elapsed time to.

    Each request goes as early as the windows allow: no earlier than the one before it, nor than ``seconds`` after
    the ``limit``-th one before it. No schedule does better (by induction, each of its requests is at least as
    late). With one window the k-th request waits ``(k - 1) // limit`` whole windows; with freee's two, past the
    hour's 1,500 requests the hour's wait comes on top of the minutes already spent (the 2,001st request: an hour
    and 16 minutes, where either window alone would allow it at 66 minutes)."""
    times: list[float] = []
    for n in range(max(calls, 0)):
        at = times[-1] if times else 0.0
        for limit, seconds in windows:
            if n >= limit:
                at = max(at, times[n - limit] + seconds)
        times.append(at)
    return times[-1] if times else 0.0


#: the latest calls a :class:`CompactCallLog` keeps exactly: a window allowing at most this many is decided exactly
EXACT_CALLS = 64
#: the buckets a :class:`CompactCallLog` counts older calls in, over its longest window
LOG_BUCKETS = 60


@dataclass
class CompactCallLog:
    """A call log of bounded size for any limits: the latest :data:`EXACT_CALLS` call times (``calls``, sorted)
    and, for older calls still inside the longest window, a count per bucket of ``width`` seconds (``counts[i]``
    for bucket ``first + i``, i.e. ``[(first + i) × width, (first + i + 1) × width)``). ``spilled`` is the latest
    call ever moved into a bucket: no bucketed call is later, so a bucket's calls are taken to happen at
    ``min(its end, spilled)``, never earlier than they did. Counting them there can only make a window look fuller
    than it is (a call waits a little longer), never emptier.

    While a window allows at most :data:`EXACT_CALLS` calls, a bucketed call is either outside it or the window
    is full of exact calls anyway (callers' clocks in step), so its answer is the exact log's (:func:`wait_seconds`)."""

    calls: list[float] = field(default_factory=list)
    width: float = 0.0
    first: int = 0
    counts: list[int] = field(default_factory=list)
    spilled: float = -math.inf

    def try_acquire(self, windows: Sequence[Window], now: float) -> float:
        """The :class:`RateLimitStore` rule on this log: record a call at ``now`` and return 0 if every window has
        room; else change nothing that matters (old calls may be forgotten) and return the seconds to wait."""
        longest = max(length for _, length in windows)
        self._rebucket(longest / LOG_BUCKETS)
        self._forget(now - longest)
        wait = 0.0
        for limit, length in windows:
            wait = max(wait, self._wait(limit, length, now))
        if wait > 0:
            return wait
        bisect.insort(self.calls, now)
        while len(self.calls) > EXACT_CALLS:
            self._spill(self.calls.pop(0))
        return 0.0

    def _latest(self, index: int) -> float:
        """The latest instant a call counted in ``counts[index]`` can have been made."""
        return min((self.first + index + 1) * self.width, self.spilled)

    def _wait(self, limit: int, length: float, now: float) -> float:
        """Seconds until the window of ``length`` before a call at ``now`` holds fewer than ``limit`` calls."""
        horizon = now - length
        # (when calls leave the window, how many)
        leaving = [(t + length, 1) for t in self.calls if t > horizon]
        for index, count in enumerate(self.counts):
            if count and self._latest(index) > horizon:
                leaving.append((self._latest(index) + length, count))
        excess = sum(count for _, count in leaving) - limit + 1
        if excess <= 0:
            return 0.0
        for at, count in sorted(leaving):
            excess -= count
            if excess <= 0:
                return at - now
        raise AssertionError("unreachable: the calls counted cover the excess")

    def _forget(self, horizon: float) -> None:
        """Drop what no window reaches any more: calls at or before ``horizon``."""
        self.calls = [t for t in self.calls if t > horizon]
        while self.counts and (not self.counts[0] or self._latest(0) <= horizon):
            self.counts.pop(0)
            self.first += 1

    def _spill(self, at: float) -> None:
        """Count the call made at ``at`` in its bucket (or a later one: never earlier than it was made)."""
        self.spilled = max(self.spilled, at)
        self._count(math.floor(at / self.width), 1)
        while len(self.counts) > LOG_BUCKETS + 2:  # only with clocks far apart: fold the oldest into the next
            self.counts[1] += self.counts.pop(0)
            self.first += 1

    def _count(self, bucket: int, calls: int) -> None:
        """Add ``calls`` to ``bucket``, or to the first bucket if it is older (so counted later than made)."""
        if not self.counts:
            self.first, self.counts = bucket, [0]
        index = max(0, bucket - self.first)
        self.counts.extend([0] * (index + 1 - len(self.counts)))
        self.counts[index] += calls

    def _rebucket(self, width: float) -> None:
        """Buckets of another width (the longest window changed): each old bucket's calls move to the new bucket
        holding the latest instant they can have been made, so none is counted earlier than it was."""
        if width == self.width:
            return
        moved = [(self._latest(i), count) for i, count in enumerate(self.counts) if count]
        self.width, self.counts = width, []
        for latest, count in moved:  # oldest first
            self._count(math.floor(latest / width), count)


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
