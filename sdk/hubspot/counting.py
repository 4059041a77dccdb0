"""Counting and retrying HubSpot calls: :class:`CallCounter` (benchmarks' "calls per deal") and the urllib3
``Retry`` the client hands to the official client (:func:`build_retry`).

Transient answers (429, 502, 503, 504, connection errors) are retried inside urllib3 with a ``Retry`` that
honours ``Retry-After``, backs off exponentially and waits on the injected :class:`~sdk.clock.Clock` (so a
sandbox and a test share one fake time). Every HTTP method is retried: the writes the client makes (batch update,
property creation, callback completion) are idempotent or answer 409 when repeated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Self

from urllib3.util.retry import Retry

from sdk.clock import Clock, SystemClock

if TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
RETRY_COUNTER_KEY: Final = "http.retry"


class CallCounter:
    """Counts HubSpot API calls by operation (``deals.get``, ``line_items.batch_read``, …); thread-safe.

    Each wrapper method adds one per HTTP call it makes; retries done inside urllib3 are counted under
    ``http.retry``, so ``total`` is every request sent and ``calls()`` the logical calls.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def increment(self, operation: str, n: int = 1) -> None:
        with self._lock:
            self._counts[operation] = self._counts.get(operation, 0) + n

    def count(self, operation: str) -> int:
        with self._lock:
            return self._counts.get(operation, 0)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def calls(self) -> int:
        """Logical API calls, retries left out."""
        with self._lock:
            return sum(n for op, n in self._counts.items() if op != RETRY_COUNTER_KEY)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class ClockRetry(Retry):
    """urllib3's ``Retry`` that waits on a :class:`~sdk.clock.Clock` and reports each retry."""

    clock: Clock = SystemClock()
    on_retry: Callable[[], None] | None = None

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.clock = self.clock
        retry.on_retry = self.on_retry
        return retry

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            self.clock.sleep(retry_after)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.clock.sleep(backoff)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if self.on_retry is not None:
            self.on_retry()
        super().sleep(response)


def build_retry(
    clock: Clock,
    *,
    total: int = 6,
    backoff_factor: float = 1.0,
    backoff_max: float = 30.0,
    on_retry: Callable[[], None] | None = None,
) -> ClockRetry:
    """Retries for 429 / 502 / 503 / 504 and connection errors, on every method, honouring ``Retry-After``.

    The last answer is returned rather than raised (``raise_on_status=False``) so it is mapped like any other.
    With the defaults the waits are 0, 2, 4, 8, 16, 30 s: past HubSpot's ten-second rolling window.
    """
    retry = ClockRetry(
        total=total,
        connect=3,
        read=2,
        status=total,
        other=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    retry.clock = clock
    retry.on_retry = on_retry
    return retry
