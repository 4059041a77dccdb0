"""The ledger and the orphan list in the embedded store's SQLite file.

Every read-modify-write runs in ``BEGIN IMMEDIATE``, which takes SQLite's write lock before reading, so two
workers can never both see a deal unclaimed. The states each write may take a row from are the port's
(:data:`~sdk.store.CLAIMABLE`, :data:`~sdk.store.HELD`, :data:`~sdk.store.CANCELLABLE`).

A file made by an earlier version is brought up to date on open: its missing columns are added
(:data:`_LEDGER_COLUMNS`) and its missing indexes made (``CREATE INDEX IF NOT EXISTS`` in :data:`_SCHEMA`), e.g.
``ledger_company``, which serves :meth:`SQLiteLedger.ledger_for_company` (one company's rows, no full scan).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from sdk.errors import ClaimLost, Problem
from sdk.sqlite_db import SQLiteDB
from sdk.store import (
    CANCELLABLE,
    CLAIMABLE,
    HELD,
    Claim,
    Failure,
    Intent,
    InvoiceRecord,
    LedgerRow,
    LedgerState,
    OrphanInvoice,
)
from sdk.store.codec import from_plain, problems_from_plain, problems_to_plain, to_plain

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, claim_token TEXT, claim_until TEXT, company_id TEXT, partner_id INTEGER,
    billing_date TEXT, invoice TEXT, written TEXT NOT NULL DEFAULT '{}', last_error TEXT, updated_at TEXT,
    PRIMARY KEY (portal_id, deal_id));
CREATE INDEX IF NOT EXISTS ledger_state ON ledger (state);
CREATE INDEX IF NOT EXISTS ledger_company ON ledger (portal_id, company_id, deal_id);
CREATE TABLE IF NOT EXISTS orphans (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, invoice_id INTEGER NOT NULL, invoice_number TEXT NOT NULL,
    partner_id INTEGER NOT NULL, billing_date TEXT NOT NULL, amount_total INTEGER NOT NULL, found_at TEXT NOT NULL,
    resolved_at TEXT, PRIMARY KEY (portal_id, deal_id, invoice_id));
"""
#: columns added to ``ledger`` after files were made without them (added when missing, on open)
IN_BATCH = 500  # deal ids per IN (...) query: well under SQLite's 32,766 bound parameters
_LEDGER_COLUMNS = {
    "intents": "TEXT NOT NULL DEFAULT '[]'",
    "reasons": "TEXT NOT NULL DEFAULT '[]'",
    "warnings": "TEXT NOT NULL DEFAULT '[]'",
    "charges": "TEXT NOT NULL DEFAULT '[]'",
}

#: one company's rows (:meth:`SQLiteLedger.ledger_for_company`), searched by the ``ledger_company`` index
COMPANY_ROWS = "SELECT * FROM ledger WHERE portal_id = ? AND company_id = ? ORDER BY deal_id"


def _invoice_json(invoice: InvoiceRecord) -> str:
    return json.dumps(to_plain(invoice))


def _invoice(text: str | None) -> InvoiceRecord | None:
    return from_plain(InvoiceRecord, json.loads(text)) if text else None


def _problems_json(problems: tuple[Problem, ...]) -> str:
    return json.dumps(problems_to_plain(problems), ensure_ascii=False)


class SQLiteLedger:
    """The :class:`~sdk.store.Ledger` and :class:`~sdk.store.Orphans` ports on ``db`` (their tables are made, or
    given their missing columns, on open)."""

    def __init__(self, db: SQLiteDB) -> None:
        self.db = db
        self.db.script(_SCHEMA)
        self.db.add_missing_columns("ledger", _LEDGER_COLUMNS)

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
            invoice=_invoice(r["invoice"]),
            written=json.loads(r["written"]),
            last_error=r["last_error"],
            updated_at=datetime.fromisoformat(r["updated_at"]) if r["updated_at"] else None,
            intents=tuple((int(p), date.fromisoformat(d)) for p, d in json.loads(r["intents"])),
            reasons=problems_from_plain(json.loads(r["reasons"])),
            warnings=problems_from_plain(json.loads(r["warnings"])),
            charges=tuple((str(k), int(a)) for k, a in json.loads(r["charges"])),
        )

    def _select(self, db: sqlite3.Connection, portal_id: int, deal_id: str) -> LedgerRow | None:
        return self._row(
            db.execute(
                "SELECT * FROM ledger WHERE portal_id = ? AND deal_id = ?", (portal_id, deal_id)
            ).fetchone()
        )

    def _reread(self, db: sqlite3.Connection, portal_id: int, deal_id: str) -> LedgerRow:
        """The row as a write of this transaction left it."""
        row = self._select(db, portal_id, deal_id)
        assert row is not None  # noqa: S101 - written in this transaction
        return row

    def _update(self, db: sqlite3.Connection, portal_id: int, deal_id: str, **columns: Any) -> LedgerRow:
        """Set ``columns`` (our own names) on the deal's row, move its version; the row as it now stands."""
        sets = "".join(f"{name} = ?, " for name in columns)
        db.execute(
            f"UPDATE ledger SET {sets}version = version + 1 WHERE portal_id = ? AND deal_id = ?",  # noqa: S608
            (*columns.values(), portal_id, deal_id),
        )
        return self._reread(db, portal_id, deal_id)

    def get_ledger(self, portal_id: int, deal_id: str) -> LedgerRow | None:
        with self._tx() as db:
            return self._select(db, portal_id, deal_id)

    def get_ledgers(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, LedgerRow]:
        ids = list(dict.fromkeys(deal_ids))
        found: dict[str, LedgerRow] = {}
        with self._tx() as db:
            for start in range(0, len(ids), IN_BATCH):
                chunk = ids[start : start + IN_BATCH]
                marks = ", ".join("?" * len(chunk))
                for r in db.execute(
                    f"SELECT * FROM ledger WHERE portal_id = ? AND deal_id IN ({marks})",  # noqa: S608
                    (portal_id, *chunk),
                ):
                    row = self._row(r)
                    if row is not None:
                        found[row.deal_id] = row
        return found

    def claim(self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime) -> Claim:
        with self._tx(immediate=True) as db:
            row = self._select(db, portal_id, deal_id)
            if row is None:
                db.execute(
                    "INSERT INTO ledger (portal_id, deal_id, state, version, attempts, claim_token, claim_until,"
                    " updated_at) VALUES (?, ?, ?, 1, 1, ?, ?, ?)",
                    (portal_id, deal_id, HELD, token, until.isoformat(), now.isoformat()),
                )
                return Claim(True, self._reread(db, portal_id, deal_id), resumed=False)
            if row.state not in CLAIMABLE or row.claimed(now):
                return Claim(False, row)
            db.execute(
                "UPDATE ledger SET state = ?, version = version + 1, attempts = attempts + 1, claim_token = ?,"
                " claim_until = ?, updated_at = ? WHERE portal_id = ? AND deal_id = ?",
                (HELD, token, until.isoformat(), now.isoformat(), portal_id, deal_id),
            )
            return Claim(True, self._reread(db, portal_id, deal_id), resumed=True)

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

    def note_intent(self, portal_id: int, deal_id: str, token: str, intent: Intent) -> None:
        with self._tx(immediate=True) as db:
            row = self._holding(db, portal_id, deal_id, token, HELD)
            intents = sorted({*row.intents, (intent.partner_id, intent.billing_date)})
            self._update(
                db,
                portal_id,
                deal_id,
                company_id=intent.company_id,
                partner_id=intent.partner_id,
                billing_date=intent.billing_date.isoformat(),
                intents=json.dumps([[p, d.isoformat()] for p, d in intents]),
                warnings=_problems_json(intent.warnings),
                **({"charges": json.dumps([list(c) for c in intent.charges])} if intent.charges else {}),
            )

    def renew_claim(
        self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            self._holding(db, portal_id, deal_id, token, HELD)
            return self._update(
                db, portal_id, deal_id, claim_until=until.isoformat(), updated_at=now.isoformat()
            )

    def record_invoice(
        self, portal_id: int, deal_id: str, token: str, invoice: InvoiceRecord, now: datetime
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            self._holding(db, portal_id, deal_id, token, HELD)
            return self._update(
                db,
                portal_id,
                deal_id,
                state=LedgerState.CREATED,
                invoice=_invoice_json(invoice),
                partner_id=invoice.partner_id,
                billing_date=invoice.billing_date.isoformat(),
                last_error=None,
                reasons=_problems_json(()),
                updated_at=now.isoformat(),
            )

    def record_scheduled(self, portal_id: int, deal_id: str, token: str, now: datetime) -> LedgerRow:
        with self._tx(immediate=True) as db:
            self._holding(db, portal_id, deal_id, token, HELD)
            return self._update(
                db,
                portal_id,
                deal_id,
                state=LedgerState.SCHEDULED,
                last_error=None,
                reasons=_problems_json(()),
                claim_token=None,
                claim_until=None,
                updated_at=now.isoformat(),
            )

    def record_failure(
        self, portal_id: int, deal_id: str, token: str, failure: Failure, now: datetime
    ) -> LedgerRow:
        with self._tx(immediate=True) as db:
            row = self._holding(db, portal_id, deal_id, token, HELD)
            until = failure.settle_until.isoformat() if failure.settle_until is not None else None
            return self._update(
                db,
                portal_id,
                deal_id,
                state=failure.state,
                last_error=failure.error,
                reasons=_problems_json(failure.reasons),
                written=_merged(row.written, failure.written),
                claim_token=token if until is not None else None,
                claim_until=until,
                updated_at=now.isoformat(),
            )

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
            columns: dict[str, Any] = {"written": _merged(row.written, values), "updated_at": now.isoformat()}
            if token is not None:
                columns |= {"claim_token": None, "claim_until": None}
            if invoice is not None:
                columns["invoice"] = _invoice_json(invoice)
            return self._update(db, portal_id, deal_id, **columns)

    def mark_cancelled(self, portal_id: int, deal_id: str, now: datetime) -> LedgerRow:
        with self._tx(immediate=True) as db:
            row = self._select(db, portal_id, deal_id)
            if row is None or row.state is not CANCELLABLE:
                raise ValueError(f"deal {deal_id} has no invoice to cancel")
            return self._update(
                db, portal_id, deal_id, state=LedgerState.CANCELLED, updated_at=now.isoformat()
            )

    def ledger(self, *, states: frozenset[LedgerState] | None = None) -> Iterator[LedgerRow]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM ledger ORDER BY portal_id, deal_id").fetchall()
        for r in rows:
            row = self._row(r)
            if row is not None and (states is None or row.state in states):
                yield row

    def ledger_for_company(self, portal_id: int, company_id: str) -> list[LedgerRow]:
        """One company's rows through the ``ledger_company`` index."""
        with self._tx() as db:
            rows = db.execute(COMPANY_ROWS, (portal_id, company_id)).fetchall()
        return [row for row in map(self._row, rows) if row is not None]

    # ----------------------------------------------------------------------------------------- orphans

    def record_orphan(self, orphan: OrphanInvoice) -> None:
        values = to_plain(orphan)
        columns = ", ".join(values)
        with self._tx(immediate=True) as db:
            db.execute(
                f"INSERT OR IGNORE INTO orphans ({columns}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
                tuple(values.values()),
            )

    def orphans(self, portal_id: int | None = None, deal_id: str | None = None) -> list[OrphanInvoice]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM orphans WHERE (? IS NULL OR portal_id = ?) AND (? IS NULL OR deal_id = ?)"
                " ORDER BY portal_id, deal_id, invoice_id",
                (portal_id, portal_id, deal_id, deal_id),
            ).fetchall()
        return [from_plain(OrphanInvoice, dict(r)) for r in rows]

    def resolve_orphan(self, portal_id: int, deal_id: str, invoice_id: int, now: datetime) -> bool:
        with self._tx(immediate=True) as db:
            cursor = db.execute(
                "UPDATE orphans SET resolved_at = ? WHERE portal_id = ? AND deal_id = ? AND invoice_id = ?"
                " AND resolved_at IS NULL",
                (now.isoformat(), portal_id, deal_id, invoice_id),
            )
            return cursor.rowcount == 1


def _merged(written: Mapping[str, str], values: Mapping[str, str]) -> str:
    """``written`` with each of ``values`` in place of its key's value, as the ``written`` column keeps it."""
    return json.dumps({**written, **values}, ensure_ascii=False, sort_keys=True)
