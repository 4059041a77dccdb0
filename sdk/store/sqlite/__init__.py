"""The embedded adapters: every store port on one SQLite file (WAL), safe for several processes on one machine.

``ledger`` (the ledger and orphan list), ``schedules`` (deals' billing schedules), ``store`` (:class:`SQLiteStore`:
those plus partner links, seen events, history, waiters, leases and company rollups), ``tokens`` (the freee token
row) and ``ratelimit`` (the shared rate-limit log).
"""

from sdk.store.sqlite.ratelimit import SQLiteRateLimitStore
from sdk.store.sqlite.store import SQLiteStore
from sdk.store.sqlite.tokens import SQLiteTokenStore

__all__ = ["SQLiteRateLimitStore", "SQLiteStore", "SQLiteTokenStore"]
