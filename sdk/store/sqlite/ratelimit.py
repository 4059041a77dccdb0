"""The shared rate-limit log (:class:`~sdk.freee.ratelimit.RateLimitStore` port) in the embedded store's SQLite
file: every call time inside the longest window, one row each; the limiter is :mod:`sdk.freee.ratelimit`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sdk.freee.ratelimit import Window, wait_seconds
from sdk.sqlite_db import SQLiteDB


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
