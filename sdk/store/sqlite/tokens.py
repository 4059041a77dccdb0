"""The freee token row (:class:`~sdk.freee.tokens.TokenStore` port) in the embedded store's SQLite file; the
refresh protocol it serves is :mod:`sdk.freee.tokens`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sdk.freee.tokens import StoredToken, TokenSet
from sdk.sqlite_db import SQLiteDB


class SQLiteTokenStore:
    """The token row in a SQLite file, safe across processes (``BEGIN IMMEDIATE`` serialises writers)."""

    def __init__(self, db: SQLiteDB | str | Path) -> None:
        self.db = db if isinstance(db, SQLiteDB) else SQLiteDB(db)
        self.db.script(
            "CREATE TABLE IF NOT EXISTS freee_token (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL,"
            " version INTEGER NOT NULL, claim_holder TEXT, claim_until TEXT, disconnected_reason TEXT,"
            " disconnected_at TEXT)"
        )
        # a file made before the disconnected state was kept gets its two columns
        self.db.add_missing_columns("freee_token", {"disconnected_reason": "TEXT", "disconnected_at": "TEXT"})

    def load_token(self) -> StoredToken | None:
        with self.db.transaction() as db:
            row = db.execute(
                "SELECT data, version, claim_holder, claim_until, disconnected_reason, disconnected_at"
                " FROM freee_token WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        until = datetime.fromisoformat(row[3]) if row[3] else None
        since = datetime.fromisoformat(row[5]) if row[5] else None
        return StoredToken(TokenSet.from_json(row[0]), row[1], row[2], until, row[4], since)

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        with self.db.transaction(immediate=True) as db:
            row = db.execute("SELECT version, claim_until FROM freee_token WHERE id = 1").fetchone()
            live = row is not None and row[1] is not None and datetime.fromisoformat(row[1]) > now
            if row is None or row[0] != version or live:
                return False
            db.execute(
                "UPDATE freee_token SET claim_holder = ?, claim_until = ? WHERE id = 1",
                (holder, until.isoformat()),
            )
            return True

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        with self.db.transaction(immediate=True) as db:
            row = db.execute("SELECT version FROM freee_token WHERE id = 1").fetchone()
            current = row[0] if row else None
            if current != expected_version:
                return None
            version = (current or 0) + 1
            db.execute(
                "INSERT INTO freee_token (id, data, version, claim_holder, claim_until) VALUES (1, ?, ?, NULL, NULL)"
                " ON CONFLICT(id) DO UPDATE SET data = excluded.data, version = excluded.version,"
                " claim_holder = NULL, claim_until = NULL, disconnected_reason = NULL, disconnected_at = NULL",
                (tokens.to_json(), version),
            )
            return StoredToken(tokens, version)

    def release_refresh(self, version: int, holder: str) -> None:
        with self.db.transaction(immediate=True) as db:
            db.execute(
                "UPDATE freee_token SET claim_holder = NULL, claim_until = NULL"
                " WHERE id = 1 AND version = ? AND claim_holder = ?",
                (version, holder),
            )

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        with self.db.transaction(immediate=True) as db:
            row = db.execute("SELECT version, disconnected_at FROM freee_token WHERE id = 1").fetchone()
            if row is None or row[0] != version:
                return False
            if row[1] is None:
                db.execute(
                    "UPDATE freee_token SET claim_holder = NULL, claim_until = NULL, disconnected_reason = ?,"
                    " disconnected_at = ? WHERE id = 1",
                    (reason, at.isoformat()),
                )
            return True
