"""The embedded store: one SQLite file (WAL), safe for several processes on one machine.

:class:`SQLiteStore` is the ledger and orphan list (:class:`~sdk.store.sqlite.ledger.SQLiteLedger`) and the billing
schedules (:class:`~sdk.store.sqlite.schedules.SQLiteSchedules`) plus the other roles' tables here (partner links,
seen events, history, waiters, leases, company rollups), and reaches the freee and HubSpot token rows and the
rate-limit log of the same file through ``tokens``, ``hubspot_tokens`` and ``rate_limits``. Every read-modify-write
runs in ``BEGIN IMMEDIATE``, which takes SQLite's write lock before reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path

from sdk.freee.ratelimit import RateLimitStore
from sdk.freee.tokens import TokenStore
from sdk.sqlite_db import SQLiteDB, missing_tables, read_tables, tables_of
from sdk.store import HistoryEvent
from sdk.store.codec import detail_from_json, detail_to_json
from sdk.store.sqlite.ledger import SQLiteLedger
from sdk.store.sqlite.ratelimit import SQLiteRateLimitStore
from sdk.store.sqlite.schedules import SQLiteSchedules
from sdk.store.sqlite.tokens import SQLiteTokenStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS partner_links (
    portal_id INTEGER NOT NULL, company_id TEXT NOT NULL, partner_id INTEGER NOT NULL,
    PRIMARY KEY (portal_id, company_id));
CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, keep_until TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, at TEXT NOT NULL,
    event TEXT NOT NULL, trigger TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_deal ON history (portal_id, deal_id, seq);
CREATE TABLE IF NOT EXISTS waiters (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, callback_id TEXT NOT NULL, until_ts REAL NOT NULL,
    PRIMARY KEY (portal_id, deal_id, callback_id));
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until_ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS company_written (
    portal_id INTEGER NOT NULL, company_id TEXT NOT NULL, written TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (portal_id, company_id));
"""


def schema_gaps(path: str | Path) -> list[str]:
    """What the file at ``path`` lacks of the tables and columns :class:`SQLiteStore` makes (``"table ledger"``,
    ``"column ledger.intents"``), read without writing; empty when it has them all. Opening the store adds them.
    Raises ``sqlite3.DatabaseError`` for a file that is not a SQLite database."""
    return missing_tables(read_tables(path), _expected_tables())


@cache
def _expected_tables() -> dict[str, frozenset[str]]:
    """The tables and columns of a store made now (in memory)."""
    store = SQLiteStore(":memory:")
    db = store.db.connection()
    try:
        return tables_of(db)
    finally:
        db.close()


class SQLiteStore(SQLiteLedger, SQLiteSchedules):
    """The :class:`~sdk.store.Store` port on the SQLite file at ``path`` (made, with its tables, when absent)."""

    def __init__(self, path: str | Path) -> None:
        db = SQLiteDB(path)
        SQLiteLedger.__init__(self, db)
        SQLiteSchedules.__init__(self, db)
        self.path = db.path
        db.script(_SCHEMA)
        self.tokens: TokenStore = SQLiteTokenStore(db)
        self.hubspot_tokens: TokenStore = SQLiteTokenStore(db, "hubspot")
        self.rate_limits: RateLimitStore = SQLiteRateLimitStore(db)

    # ---------------------------------------------------------------------------------------- partners

    def partner_for_company(self, portal_id: int, company_id: str) -> int | None:
        with self._tx() as db:
            r = db.execute(
                "SELECT partner_id FROM partner_links WHERE portal_id = ? AND company_id = ?",
                (portal_id, company_id),
            ).fetchone()
        return int(r[0]) if r else None

    def link_partner(self, portal_id: int, company_id: str, partner_id: int) -> int:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO partner_links (portal_id, company_id, partner_id) VALUES (?, ?, ?)",
                (portal_id, company_id, partner_id),
            )
            r = db.execute(
                "SELECT partner_id FROM partner_links WHERE portal_id = ? AND company_id = ?",
                (portal_id, company_id),
            ).fetchone()
        return int(r[0])

    # ---------------------------------------------------------------------------------- events, history

    def seen_any(self, event_ids: Iterable[str], now: datetime) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        found: set[str] = set()
        with self._tx() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT event_id FROM seen_events WHERE keep_until > ? AND event_id IN ({marks})",  # noqa: S608
                    (now.isoformat(), *chunk),
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def record_sightings(self, event_ids: Iterable[str], now: datetime, keep_until: datetime) -> None:
        with self._tx(immediate=True) as db:
            db.executemany(
                "INSERT INTO seen_events (event_id, keep_until) VALUES (?, ?)"
                " ON CONFLICT(event_id) DO UPDATE SET keep_until = excluded.keep_until",
                [(event_id, keep_until.isoformat()) for event_id in dict.fromkeys(event_ids)],
            )

    def append_history(self, portal_id: int, deal_id: str, event: HistoryEvent) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO history (portal_id, deal_id, at, event, trigger, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    portal_id,
                    deal_id,
                    event.at.isoformat(),
                    event.event,
                    event.trigger,
                    detail_to_json(event.detail),
                ),
            )

    def history(self, portal_id: int, deal_id: str) -> list[HistoryEvent]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT at, event, trigger, detail FROM history WHERE portal_id = ? AND deal_id = ? ORDER BY seq",
                (portal_id, deal_id),
            ).fetchall()
        return [HistoryEvent(datetime.fromisoformat(r[0]), r[1], r[2], detail_from_json(r[3])) for r in rows]

    # ----------------------------------------------------------------------------------------- waiters

    def add_waiter(self, portal_id: int, deal_id: str, callback_id: str, until: datetime) -> None:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT INTO waiters (portal_id, deal_id, callback_id, until_ts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(portal_id, deal_id, callback_id) DO UPDATE SET until_ts = excluded.until_ts",
                (portal_id, deal_id, callback_id, until.timestamp()),
            )

    def take_waiters(self, portal_id: int, deal_id: str, now: datetime) -> list[str]:
        with self._tx(immediate=True) as db:
            rows = db.execute(
                "SELECT callback_id FROM waiters WHERE portal_id = ? AND deal_id = ? AND until_ts > ?"
                " ORDER BY callback_id",
                (portal_id, deal_id, now.timestamp()),
            ).fetchall()
            db.execute("DELETE FROM waiters WHERE portal_id = ? AND deal_id = ?", (portal_id, deal_id))
        return [str(r[0]) for r in rows]

    def take_waiter(self, portal_id: int, deal_id: str, callback_id: str, now: datetime) -> bool:
        with self._tx(immediate=True) as db:
            r = db.execute(
                "SELECT until_ts FROM waiters WHERE portal_id = ? AND deal_id = ? AND callback_id = ?",
                (portal_id, deal_id, callback_id),
            ).fetchone()
            if r is None:
                return False
            db.execute(
                "DELETE FROM waiters WHERE portal_id = ? AND deal_id = ? AND callback_id = ?",
                (portal_id, deal_id, callback_id),
            )
            return float(r[0]) > now.timestamp()

    # ------------------------------------------------------------------------------------- payment sync

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        with self._tx(immediate=True) as db:
            r = db.execute("SELECT holder, until_ts FROM leases WHERE name = ?", (name,)).fetchone()
            if r is not None and r[0] != holder and float(r[1]) > now.timestamp():
                return False
            db.execute(
                "INSERT INTO leases (name, holder, until_ts) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until_ts = excluded.until_ts",
                (name, holder, until.timestamp()),
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx(immediate=True) as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def companies_written(self, portal_id: int) -> dict[str, dict[str, str]]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT company_id, written FROM company_written WHERE portal_id = ?", (portal_id,)
            ).fetchall()
        return {str(r[0]): json.loads(r[1]) for r in rows}

    def record_company_written(
        self, portal_id: int, company_id: str, values: Mapping[str, str], now: datetime
    ) -> None:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT INTO company_written (portal_id, company_id, written, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(portal_id, company_id) DO UPDATE SET written = excluded.written,"
                " updated_at = excluded.updated_at",
                (
                    portal_id,
                    company_id,
                    json.dumps(dict(values), ensure_ascii=False, sort_keys=True),
                    now.isoformat(),
                ),
            )
