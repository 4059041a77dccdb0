"""The embedded store: one SQLite file (WAL), safe for several processes on one machine.

Every read-modify-write runs in ``BEGIN IMMEDIATE``, which takes SQLite's write lock before reading, so two
workers can never both see a deal unclaimed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sdk.errors import ClaimLost
from sdk.freee.ratelimit import RateLimitStore, SQLiteRateLimitStore
from sdk.freee.tokens import SQLiteTokenStore, TokenStore
from sdk.sqlite_db import SQLiteDB
from sdk.store import (
    Claim,
    HistoryEvent,
    InvoiceRecord,
    LedgerRow,
    LedgerState,
    OrphanInvoice,
    check_failure,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, claim_token TEXT, claim_until TEXT, company_id TEXT, partner_id INTEGER,
    billing_date TEXT, invoice TEXT, written TEXT NOT NULL DEFAULT '{}', last_error TEXT, updated_at TEXT,
    PRIMARY KEY (portal_id, deal_id));
CREATE INDEX IF NOT EXISTS ledger_state ON ledger (state);
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
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS company_written (
    portal_id INTEGER NOT NULL, company_id TEXT NOT NULL, written TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (portal_id, company_id));
CREATE TABLE IF NOT EXISTS orphans (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, invoice_id INTEGER NOT NULL, invoice_number TEXT NOT NULL,
    partner_id INTEGER NOT NULL, billing_date TEXT NOT NULL, amount_total INTEGER NOT NULL, found_at TEXT NOT NULL,
    resolved_at TEXT, PRIMARY KEY (portal_id, deal_id, invoice_id));
"""
#: columns added to ``ledger`` after files were made without them (added when missing, on open)
_LEDGER_COLUMNS = {"intents": "TEXT NOT NULL DEFAULT '[]'"}

_CLAIMABLE = (LedgerState.FAILED, LedgerState.INVALID, LedgerState.CREATING)


def invoice_to_json(invoice: InvoiceRecord | None) -> str | None:
    if invoice is None:
        return None
    data = asdict(invoice)
    data["billing_date"] = invoice.billing_date.isoformat()
    data["due_date"] = invoice.due_date.isoformat() if invoice.due_date else None
    return json.dumps(data)


def invoice_from_json(text: str | None) -> InvoiceRecord | None:
    if not text:
        return None
    data = json.loads(text)
    data["billing_date"] = date.fromisoformat(data["billing_date"])
    data["due_date"] = date.fromisoformat(data["due_date"]) if data["due_date"] else None
    return InvoiceRecord(**data)


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.db = SQLiteDB(path)
        self.path = self.db.path
        self.db.script(_SCHEMA)
        self._add_missing_columns()
        self.tokens: TokenStore = SQLiteTokenStore(self.db)
        self.rate_limits: RateLimitStore = SQLiteRateLimitStore(self.db)

    def _add_missing_columns(self) -> None:
        """A file made before a ledger column existed gets it (another process may be adding it at the same
        moment: a duplicate column is fine)."""
        present = {r[1] for r in self.db.connection().execute("PRAGMA table_info(ledger)")}
        for column, kind in _LEDGER_COLUMNS.items():
            if column not in present:
                try:
                    self.db.script(f"ALTER TABLE ledger ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise

    def _tx(self, immediate: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        return self.db.transaction(immediate=immediate)

    # ------------------------------------------------------------------------------------------ ledger

    @staticmethod
    def _row(r: sqlite3.Row | None) -> LedgerRow | None:
        if r is None:
            return None
        return LedgerRow(
            portal_id=r["portal_id"],
            deal_id=r["deal_id"],
            state=LedgerState(r["state"]),
            version=r["version"],
            attempts=r["attempts"],
            claim_token=r["claim_token"],
            claim_until=datetime.fromisoformat(r["claim_until"]) if r["claim_until"] else None,
            company_id=r["company_id"],
            partner_id=r["partner_id"],
            billing_date=date.fromisoformat(r["billing_date"]) if r["billing_date"] else None,
            invoice=invoice_from_json(r["invoice"]),
            written=json.loads(r["written"]),
            last_error=r["last_error"],
            updated_at=datetime.fromisoformat(r["updated_at"]) if r["updated_at"] else None,
            intents=tuple((int(p), date.fromisoformat(d)) for p, d in json.loads(r["intents"])),
        )

    def _select(self, db: sqlite3.Connection, portal_id: int, deal_id: str) -> LedgerRow | None:
        return self._row(
            db.execute(
                "SELECT * FROM ledger WHERE portal_id = ? AND deal_id = ?", (portal_id, deal_id)
            ).fetchone()
        )

    def get_ledger(self, portal_id: int, deal_id: str) -> LedgerRow | None:
        with self._tx() as db:
            return self._select(db, portal_id, deal_id)

    def claim(self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime) -> Claim:
        with self._tx(immediate=True) as db:
            row = self._select(db, portal_id, deal_id)
            if row is None:
                db.execute(
                    "INSERT INTO ledger (portal_id, deal_id, state, version, attempts, claim_token, claim_until,"
                    " updated_at) VALUES (?, ?, ?, 1, 1, ?, ?, ?)",
                    (portal_id, deal_id, LedgerState.CREATING, token, until.isoformat(), now.isoformat()),
                )
                created = self._select(db, portal_id, deal_id)
                assert created is not None  # noqa: S101 - just inserted in this transaction
                return Claim(True, created, resumed=False)
            if row.state not in _CLAIMABLE or row.claimed(now):
                return Claim(False, row)
            db.execute(
                "UPDATE ledger SET state = ?, version = version + 1, attempts = attempts + 1, claim_token = ?,"
                " claim_until = ?, updated_at = ? WHERE portal_id = ? AND deal_id = ?",
                (LedgerState.CREATING, token, until.isoformat(), now.isoformat(), portal_id, deal_id),
            )
            claimed = self._select(db, portal_id, deal_id)
            assert claimed is not None  # noqa: S101 - updated in this transaction
            return Claim(True, claimed, resumed=True)

    def _holding(
        self,
        db: sqlite3.Connection,
        portal_id: int,
        deal_id: str,
        token: str,
        state: LedgerState | None = None,
    ) -> LedgerRow:
        """The row, if ``token`` holds it (and it is in ``state``, when given); :class:`ClaimLost` otherwise."""
        row = self._select(db, portal_id, deal_id)
        if row is None or row.claim_token != token:
            raise ClaimLost(f"deal {deal_id}: the claim passed to another worker")
        if state is not None and row.state is not state:
            raise ClaimLost(f"deal {deal_id} is {row.state.value}, not {state.value}: nothing to record")
        return row

    def note_intent(
        self,
        portal_id: int,
        deal_id: str,
        token: str,
        *,
        company_id: str,
        partner_id: int,
        billing_date: date,
    ) -> None:
        with self._tx(immediate=True) as db:
            row = self._holding(db, portal_id, deal_id, token, LedgerState.CREATING)
            intents = sorted({*row.intents, (partner_id, billing_date)})
            db.execute(
                "UPDATE ledger SET company_id = ?, partner_id = ?, billing_date = ?, intents = ?,"
                " version = version + 1 WHERE portal_id = ? AND deal_id = ?",
                (
                    company_id,
                    partner_id,
                    billing_date.isoformat(),
                    json.dumps([[p, d.isoformat()] for p, d in intents]),
                    portal_id,
                    deal_id,
                ),
            )

    def renew_claim(
        self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            self._holding(db, portal_id, deal_id, token, LedgerState.CREATING)
            db.execute(
                "UPDATE ledger SET claim_until = ?, version = version + 1, updated_at = ?"
                " WHERE portal_id = ? AND deal_id = ?",
                (until.isoformat(), now.isoformat(), portal_id, deal_id),
            )
            row = self._select(db, portal_id, deal_id)
            assert row is not None  # noqa: S101 - updated in this transaction
            return row

    def record_invoice(
        self, portal_id: int, deal_id: str, token: str, invoice: InvoiceRecord, now: datetime
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            self._holding(db, portal_id, deal_id, token, LedgerState.CREATING)
            db.execute(
                "UPDATE ledger SET state = ?, invoice = ?, partner_id = ?, billing_date = ?, last_error = NULL,"
                " version = version + 1, updated_at = ? WHERE portal_id = ? AND deal_id = ?",
                (
                    LedgerState.CREATED,
                    invoice_to_json(invoice),
                    invoice.partner_id,
                    invoice.billing_date.isoformat(),
                    now.isoformat(),
                    portal_id,
                    deal_id,
                ),
            )
            row = self._select(db, portal_id, deal_id)
            assert row is not None  # noqa: S101
            return row

    def record_failure(
        self,
        portal_id: int,
        deal_id: str,
        token: str,
        state: LedgerState,
        error: str,
        now: datetime,
        *,
        written: Mapping[str, str] | None = None,
        settle_until: datetime | None = None,
    ) -> LedgerRow:
        check_failure(state, settle_until)
        with self._tx(immediate=True) as db:
            row = self._holding(db, portal_id, deal_id, token, LedgerState.CREATING)
            until = settle_until.isoformat() if settle_until is not None else None
            db.execute(
                "UPDATE ledger SET state = ?, last_error = ?, written = ?, claim_token = ?, claim_until = ?,"
                " version = version + 1, updated_at = ? WHERE portal_id = ? AND deal_id = ?",
                (
                    state,
                    error,
                    _merged(row.written, written or {}),
                    token if until is not None else None,
                    until,
                    now.isoformat(),
                    portal_id,
                    deal_id,
                ),
            )
            failed = self._select(db, portal_id, deal_id)
            assert failed is not None  # noqa: S101
            return failed

    def record_written(
        self,
        portal_id: int,
        deal_id: str,
        values: Mapping[str, str],
        now: datetime,
        *,
        token: str | None = None,
        invoice: InvoiceRecord | None = None,
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            row = (
                self._holding(db, portal_id, deal_id, token)
                if token is not None
                else self._select(db, portal_id, deal_id)
            )
            if row is None:
                raise KeyError(f"no ledger row for deal {deal_id}")
            sets = ["written = ?", "version = version + 1", "updated_at = ?"]
            args: list[Any] = [_merged(row.written, values), now.isoformat()]
            if token is not None:
                sets += ["claim_token = NULL", "claim_until = NULL"]
            if invoice is not None:
                sets.append("invoice = ?")
                args.append(invoice_to_json(invoice))
            db.execute(
                f"UPDATE ledger SET {', '.join(sets)} WHERE portal_id = ? AND deal_id = ?",  # noqa: S608
                (*args, portal_id, deal_id),
            )
            updated = self._select(db, portal_id, deal_id)
            assert updated is not None  # noqa: S101
            return updated

    def mark_cancelled(self, portal_id: int, deal_id: str, now: datetime) -> LedgerRow:
        with self._tx(immediate=True) as db:
            row = self._select(db, portal_id, deal_id)
            if row is None or row.state is not LedgerState.CREATED:
                raise ValueError(f"deal {deal_id} has no invoice to cancel")
            db.execute(
                "UPDATE ledger SET state = ?, version = version + 1, updated_at = ? WHERE portal_id = ? AND deal_id = ?",
                (LedgerState.CANCELLED, now.isoformat(), portal_id, deal_id),
            )
            cancelled = self._select(db, portal_id, deal_id)
            assert cancelled is not None  # noqa: S101
            return cancelled

    def ledger(self, *, states: frozenset[LedgerState] | None = None) -> Iterator[LedgerRow]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM ledger ORDER BY portal_id, deal_id").fetchall()
        for r in rows:
            row = self._row(r)
            if row is not None and (states is None or row.state in states):
                yield row

    # ----------------------------------------------------------------------------------------- orphans

    def record_orphan(self, orphan: OrphanInvoice) -> None:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO orphans (portal_id, deal_id, invoice_id, invoice_number, partner_id,"
                " billing_date, amount_total, found_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    orphan.portal_id,
                    orphan.deal_id,
                    orphan.invoice_id,
                    orphan.invoice_number,
                    orphan.partner_id,
                    orphan.billing_date.isoformat(),
                    orphan.amount_total,
                    orphan.found_at.isoformat(),
                    orphan.resolved_at.isoformat() if orphan.resolved_at else None,
                ),
            )

    def orphans(self, portal_id: int | None = None, deal_id: str | None = None) -> list[OrphanInvoice]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM orphans WHERE (? IS NULL OR portal_id = ?) AND (? IS NULL OR deal_id = ?)"
                " ORDER BY portal_id, deal_id, invoice_id",
                (portal_id, portal_id, deal_id, deal_id),
            ).fetchall()
        return [
            OrphanInvoice(
                portal_id=r["portal_id"],
                deal_id=r["deal_id"],
                invoice_id=r["invoice_id"],
                invoice_number=r["invoice_number"],
                partner_id=r["partner_id"],
                billing_date=date.fromisoformat(r["billing_date"]),
                amount_total=r["amount_total"],
                found_at=datetime.fromisoformat(r["found_at"]),
                resolved_at=datetime.fromisoformat(r["resolved_at"]) if r["resolved_at"] else None,
            )
            for r in rows
        ]

    def resolve_orphan(self, portal_id: int, deal_id: str, invoice_id: int, now: datetime) -> bool:
        with self._tx(immediate=True) as db:
            cursor = db.execute(
                "UPDATE orphans SET resolved_at = ? WHERE portal_id = ? AND deal_id = ? AND invoice_id = ?"
                " AND resolved_at IS NULL",
                (now.isoformat(), portal_id, deal_id, invoice_id),
            )
            return cursor.rowcount == 1

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

    def seen(self, event_id: str, now: datetime) -> bool:
        with self._tx() as db:
            r = db.execute(
                "SELECT 1 FROM seen_events WHERE event_id = ? AND keep_until > ?", (event_id, now.isoformat())
            ).fetchone()
        return r is not None

    def first_sighting(self, event_id: str, now: datetime, keep_until: datetime) -> bool:
        with self._tx(immediate=True) as db:
            db.execute("DELETE FROM seen_events WHERE keep_until <= ?", (now.isoformat(),))
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen_events (event_id, keep_until) VALUES (?, ?)",
                (event_id, keep_until.isoformat()),
            )
            return cursor.rowcount == 1

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
                    json.dumps(dict(event.detail), ensure_ascii=False, default=str),
                ),
            )

    def history(self, portal_id: int, deal_id: str) -> list[HistoryEvent]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT at, event, trigger, detail FROM history WHERE portal_id = ? AND deal_id = ? ORDER BY seq",
                (portal_id, deal_id),
            ).fetchall()
        return [HistoryEvent(datetime.fromisoformat(r[0]), r[1], r[2], _detail(r[3])) for r in rows]

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

    def get_cursor(self, name: str) -> str | None:
        with self._tx() as db:
            r = db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return str(r[0]) if r else None

    def put_cursor(self, name: str, value: str) -> None:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT INTO cursors (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

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


def _merged(written: Mapping[str, str], values: Mapping[str, str]) -> str:
    """``written`` with each of ``values`` in place of its key's value, as the ``written`` column keeps it."""
    return json.dumps({**written, **values}, ensure_ascii=False, sort_keys=True)


def _detail(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}
