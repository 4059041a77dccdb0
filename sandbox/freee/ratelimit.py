"""freee's rate limits on the sandbox clock: a minute and an hour window, then a lock-out for sustained overuse."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sandbox.freee.facts import JST


@dataclass(frozen=True)
class _Verdict:
    """What the rate limiter decided for one call, and the headers that say so."""

    status: int  # 200 (allowed), 429 or 403
    limit: int
    remaining: int
    reset_seconds: int
    period: int
    minute_limit: int
    minute_remaining: int
    minute_reset_at: float

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
            "X-Ratelimit-Limit-Minute": str(self.minute_limit),
            "X-Ratelimit-Remaining-Minute": str(self.minute_remaining),
            "X-Ratelimit-Reset-Minute": datetime.fromtimestamp(self.minute_reset_at, JST).isoformat(
                timespec="microseconds"
            ),
        }
        if self.status != 200:
            out["Retry-After"] = str(self.reset_seconds)
        return out


class _RateLimiter:
    """Sliding windows (a minute and an hour) over the sandbox clock; rejected calls are not counted.

    A window counts the calls made at ``t > now - length``, the same rule as :mod:`sdk.freee.ratelimit`.
    """

    def __init__(
        self, per_minute: int, per_hour: int, lockout_after: int | None, lockout_seconds: float
    ) -> None:
        self.windows = ((per_minute, 60.0), (per_hour, 3600.0))
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.calls: deque[float] = deque()
        self.consecutive_429s = 0
        self.locked_until: float | None = None

    def reset(self) -> None:
        self.calls.clear()
        self.consecutive_429s = 0
        self.locked_until = None

    def _window(self, now: float, limit: int, length: float) -> tuple[int, float]:
        """(calls inside the window, seconds until a call is allowed in it)."""
        recent = [t for t in self.calls if t > now - length]
        wait = recent[len(recent) - limit] + length - now if len(recent) >= limit else 0.0
        return len(recent), wait

    def decide(self, now: float) -> _Verdict:
        while self.calls and self.calls[0] <= now - self.windows[-1][1]:
            self.calls.popleft()
        if self.locked_until is not None:
            if now < self.locked_until:
                return self._verdict(403, now, locked=self.locked_until - now)
            self.locked_until = None
            self.consecutive_429s = 0
        if any(self._window(now, limit, length)[1] > 0 for limit, length in self.windows):
            self.consecutive_429s += 1
            verdict = self._verdict(429, now)
            if self.lockout_after is not None and self.consecutive_429s >= self.lockout_after:
                self.locked_until = now + self.lockout_seconds
            return verdict
        self.consecutive_429s = 0
        self.calls.append(now)
        return self._verdict(200, now)

    def _verdict(self, status: int, now: float, locked: float | None = None) -> _Verdict:
        stats = []
        for limit, length in self.windows:
            count, wait = self._window(now, limit, length)
            oldest = next((t for t in self.calls if t > now - length), None)
            until_reset = wait if wait > 0 else (oldest + length - now if oldest is not None else length)
            stats.append((limit, max(0, limit - count), until_reset, int(length), wait))
        if status == 429:  # the window that refused, the longer wait if both did
            chosen = max((s for s in stats if s[4] > 0), key=lambda s: s[4])
        else:  # the tighter window
            chosen = min(stats, key=lambda s: (s[1], s[3]))
        reset = locked if locked is not None else chosen[2]
        minute = stats[0]
        return _Verdict(
            status=status,
            limit=chosen[0],
            remaining=0 if status != 200 else chosen[1],
            reset_seconds=max(1, math.ceil(reset - 1e-9)),
            period=chosen[3],
            minute_limit=minute[0],
            minute_remaining=minute[1],
            minute_reset_at=now + minute[2],
        )
