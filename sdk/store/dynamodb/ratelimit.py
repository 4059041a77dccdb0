"""The shared rate-limit log (:class:`~sdk.freee.ratelimit.RateLimitStore` port) as one item per key of the store's
DynamoDB table; the limiter and the log's rule are :mod:`sdk.freee.ratelimit`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sdk.freee.ratelimit import CompactCallLog, Window
from sdk.store.dynamodb.table import RATE_SK, Item, TableAdapter, at_version, num

_RATE_RETRIES = 64


class DynamoRateLimitStore(TableAdapter):
    """The :class:`~sdk.freee.ratelimit.RateLimitStore` port: one item per key (``RATE#{key}``) holding a
    :class:`~sdk.freee.ratelimit.CompactCallLog`, rewritten with a condition on the item's version.

    The item has the same size whatever the limits: at most :data:`~sdk.freee.ratelimit.EXACT_CALLS` call times
    (microseconds after ``base``) and :data:`~sdk.freee.ratelimit.LOG_BUCKETS` + 2 small counts, under 1 KB, so
    a call let through costs one strongly consistent read (1 read unit) and one write of one write unit, and a
    call told to wait only the read (``benchmarks/dynamodb_rate_limit.py`` measures it). The guarantee is the
    port's: no window's length of time, wherever it starts, holds more than its limit of calls from all the
    containers together (a window of at most ``EXACT_CALLS`` calls, freee's minute, decided exactly; freee's hour
    may wait up to a bucket, a minute, longer than needed); see :mod:`sdk.freee.ratelimit` for how that compares
    to freee's own counting. An item written before this shape (a ``calls`` list of every call time) is read as
    exact calls and rewritten in the new shape on the next call.

    A lost race (another worker wrote the log between our read and our write) is retried on the fresh log, so
    concurrent workers together never exceed a window. After many lost races in a row the call is refused with
    a short wait, which the caller's limiter sleeps before asking again.
    """

    def __init__(self, table: Any, *, contention_wait: float = 0.05) -> None:
        super().__init__(table)
        self.contention_wait = contention_wait

    def try_acquire(self, key: str, windows: Sequence[Window], now: float) -> float:
        item_key = {"pk": f"RATE#{key}", "sk": RATE_SK}
        for _ in range(_RATE_RETRIES):
            item = self._get(item_key)
            log = _call_log_from_item(item)
            wait = log.try_acquire(windows, now)
            if wait > 0:
                return wait
            new = {
                **item_key,
                **_call_log_attributes(log),
                "version": int(item["version"]) + 1 if item else 1,
            }
            try:
                self._table.put_item(Item=new, **at_version(item["version"] if item else None))
            except self._failed:
                continue  # another worker wrote the log first: decide again on what it wrote
            return 0.0
        return self.contention_wait


_MICROS = 1_000_000


def _call_log_attributes(log: CompactCallLog) -> Item:
    """The item attributes of a rate-limit log: times as whole microseconds after ``base`` (a whole second)."""
    base = math.floor(min(log.calls, default=0.0))

    def micros(at: float) -> int:
        return round((at - base) * _MICROS)

    attributes: Item = {
        "base": base,
        "recent": [micros(t) for t in log.calls],
        "width": num(log.width),
        "first": log.first,
        "counts": list(log.counts),
    }
    if log.counts:
        attributes["spilled"] = micros(log.spilled)
    return attributes


def _call_log_from_item(item: Item | None) -> CompactCallLog:
    """The log a rate-limit item holds (empty for none; an item of the earlier shape, every call time in
    ``calls``, as exact calls)."""
    if not item:
        return CompactCallLog()
    base = int(item.get("base", 0))
    recent = [base + int(t) / _MICROS for t in item.get("recent", [])]
    return CompactCallLog(
        calls=sorted(recent + [float(t) for t in item.get("calls", [])]),
        width=float(item.get("width", 0)),
        first=int(item.get("first", 0)),
        counts=[int(c) for c in item.get("counts", [])],
        spilled=base + int(item["spilled"]) / _MICROS if "spilled" in item else -math.inf,
    )
