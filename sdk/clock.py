"""Clocks: the one place the package reads time or waits.

Everything that sleeps or measures (rate limiters, retry back-off, lease expiry, sandboxes' rate-limit windows
and payment dates) takes a :class:`Clock`, so tests and benchmarks can run time faster than real time:

* :class:`SystemClock` — real time.
* :class:`ScaledClock` — time runs ``factor`` times faster from a shared epoch. Two ScaledClocks with the same
  epoch and factor agree, even in two processes, so a client and a sandbox served on loopback see the same
  minute. A benchmark of 300 calls under a 30/min limit then takes seconds yet reports scaled minutes.
* :class:`ShiftedClock` — real time that can be moved forward at once (``advance``), everything on it then
  running in real time again from there. The demo bills a month ahead with its server, worker and sandboxes live.
* :class:`FakeClock` — time moves only when told to (or when someone sleeps); for unit tests.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Real time multiplied by ``factor`` since ``epoch`` (a UNIX timestamp shared by everyone using it)."""

    def __init__(self, factor: float, *, epoch: float | None = None, start: datetime | None = None) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.factor = factor
        self.epoch = time.time() if epoch is None else epoch
        self.start = start if start is not None else datetime.fromtimestamp(self.epoch, UTC)

    def elapsed(self) -> float:
        return (time.time() - self.epoch) * self.factor

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    def monotonic(self) -> float:
        return self.elapsed()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.factor)


class ShiftedClock:
    """Real time plus an offset that only grows: ``advance`` jumps ``now`` and ``monotonic`` alike (thread-safe),
    as :class:`FakeClock` does, while ``sleep`` waits in real time. Jump only while nothing is in flight: a lease,
    a visibility timeout or a token taken before the jump has expired after it, as it would have a month later."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + timedelta(seconds=offset)

    def monotonic(self) -> float:
        with self._lock:
            offset = self._offset
        return time.monotonic() + offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Manual time. ``sleep`` advances it at once (thread-safe), so code that waits runs instantly."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.advance(seconds)
