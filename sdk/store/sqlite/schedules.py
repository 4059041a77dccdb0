"""Deals' billing schedules in the embedded store's SQLite file: the ``schedules`` table, one row per deal, its plan
as JSON text.

A save runs in ``BEGIN IMMEDIATE`` (SQLite's write lock taken before reading), so it reads the stored version and
writes only when it is still the one the writer read: two writers never both win, and the loser's
:class:`~sdk.errors.ScheduleConflict` names the version it met.

``schedules_due`` (``portal_id, state, next_due, deal_id``) serves :meth:`SQLiteSchedules.due_schedules`, read a
page at a time after the last (date, deal) met, each page its own short transaction (the caller may save between
pages); ``schedules_company`` (``portal_id, company_id, deal_id``) serves
:meth:`SQLiteSchedules.schedules_for_company`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime

from sdk.errors import ScheduleConflict
from sdk.sqlite_db import SQLiteDB
from sdk.store import ScheduleRow, ScheduleState
from sdk.store.codec import plan_from_json, plan_to_json
from sdk.store.sqlite.ledger import IN_BATCH

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    portal_id INTEGER NOT NULL, deal_id TEXT NOT NULL, state TEXT NOT NULL, plan TEXT NOT NULL, next_due TEXT,
    company_id TEXT, consolidated INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL, updated_at TEXT, PRIMARY KEY (portal_id, deal_id));
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (portal_id, state, next_due, deal_id);
CREATE INDEX IF NOT EXISTS schedules_company ON schedules (portal_id, company_id, deal_id);
"""
DUE_PAGE = 200  # schedules per page of due_schedules

#: one page of the schedules due by a date, after the (next_due, deal_id) last met, by the ``schedules_due`` index
DUE_ROWS = (
    "SELECT * FROM schedules WHERE portal_id = ? AND state = ? AND next_due <= ? AND (next_due, deal_id) > (?, ?)"
    " ORDER BY next_due, deal_id LIMIT ?"
)
#: one company's schedules, by the ``schedules_company`` index
COMPANY_SCHEDULES = "SELECT * FROM schedules WHERE portal_id = ? AND company_id = ? ORDER BY deal_id"
_SAVE = (
    "INSERT INTO schedules (portal_id, deal_id, state, plan, next_due, company_id, consolidated, note, version,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (portal_id, deal_id) DO UPDATE SET"
    " state = excluded.state, plan = excluded.plan, next_due = excluded.next_due,"
    " company_id = excluded.company_id, consolidated = excluded.consolidated, note = excluded.note,"
    " version = excluded.version, updated_at = excluded.updated_at"
)


def _schedule(r: sqlite3.Row) -> ScheduleRow:
    return ScheduleRow(
        portal_id=r["portal_id"],
        deal_id=r["deal_id"],
        state=ScheduleState(r["state"]),
        plan=plan_from_json(r["plan"]),
        next_due=date.fromisoformat(r["next_due"]) if r["next_due"] else None,
        company_id=r["company_id"],
        consolidated=bool(r["consolidated"]),
        note=r["note"],
        version=r["version"],
        updated_at=datetime.fromisoformat(r["updated_at"]) if r["updated_at"] else None,
    )


class SQLiteSchedules:
    """The :class:`~sdk.store.Schedules` port on ``db`` (its table and indexes are made on open)."""

    def __init__(self, db: SQLiteDB) -> None:
        self.db = db
        self.db.script(_SCHEMA)

    def get_schedule(self, portal_id: int, deal_id: str) -> ScheduleRow | None:
        with self.db.transaction() as db:
            r = db.execute(
                "SELECT * FROM schedules WHERE portal_id = ? AND deal_id = ?", (portal_id, deal_id)
            ).fetchone()
        return _schedule(r) if r else None

    def get_schedules(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, ScheduleRow]:
        ids = list(dict.fromkeys(deal_ids))
        found: dict[str, ScheduleRow] = {}
        with self.db.transaction() as db:
            for start in range(0, len(ids), IN_BATCH):
                chunk = ids[start : start + IN_BATCH]
                marks = ", ".join("?" * len(chunk))
                for r in db.execute(
                    f"SELECT * FROM schedules WHERE portal_id = ? AND deal_id IN ({marks})",  # noqa: S608
                    (portal_id, *chunk),
                ):
                    found[r["deal_id"]] = _schedule(r)
        return found

    def save_schedule(self, row: ScheduleRow, now: datetime) -> ScheduleRow:
        plan = plan_to_json(row.plan)
        stored = replace(row, plan=plan_from_json(plan), version=row.version + 1, updated_at=now)
        with self.db.transaction(immediate=True) as db:
            r = db.execute(
                "SELECT version FROM schedules WHERE portal_id = ? AND deal_id = ?",
                (row.portal_id, row.deal_id),
            ).fetchone()
            found = None if r is None else int(r[0])
            if (found or 0) != row.version:
                raise ScheduleConflict(row.portal_id, row.deal_id, row.version, found)
            db.execute(
                _SAVE,
                (
                    stored.portal_id,
                    stored.deal_id,
                    stored.state.value,
                    plan,
                    stored.next_due.isoformat() if stored.next_due else None,
                    stored.company_id,
                    int(stored.consolidated),
                    stored.note,
                    stored.version,
                    now.isoformat(),
                ),
            )
        return stored

    def due_schedules(self, portal_id: int, on: date) -> Iterator[ScheduleRow]:
        after = ("", "")
        while True:
            with self.db.transaction() as db:
                page = [
                    _schedule(r)
                    for r in db.execute(
                        DUE_ROWS, (portal_id, ScheduleState.ACTIVE.value, on.isoformat(), *after, DUE_PAGE)
                    )
                ]
            yield from page
            if len(page) < DUE_PAGE:
                return
            last = page[-1]
            after = (last.next_due.isoformat() if last.next_due else "", last.deal_id)

    def schedules_for_company(self, portal_id: int, company_id: str) -> list[ScheduleRow]:
        with self.db.transaction() as db:
            return [_schedule(r) for r in db.execute(COMPANY_SCHEDULES, (portal_id, company_id))]
