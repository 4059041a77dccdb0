"""An OAuth token row (:class:`~sdk.freee.tokens.TokenStore` port) in the embedded store's SQLite file, one table
per token name (``freee_token``, ``hubspot_token``); the refresh protocol it serves is :mod:`sdk.freee.tokens`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sdk.freee.tokens import TOKEN_NAMES, StoredToken, TokenSet
from sdk.sqlite_db import SQLiteDB


class SQLiteTokenStore:
    """The token row ``name`` (``freee``, ``hubspot``) in a SQLite file, safe across processes (``BEGIN
    IMMEDIATE`` serialises writers)."""

    def __init__(self, db: SQLiteDB | str | Path, name: str = "freee") -> None:
        if name not in TOKEN_NAMES:
            raise ValueError(f"not a token name: {name!r}")
        self.db = db if isinstance(db, SQLiteDB) else SQLiteDB(db)
        self.table = t = f"{name}_token"  # from TOKEN_NAMES only: the statements below hold no caller input
        self.db.script(
            f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL,"
            " version INTEGER NOT NULL, claim_holder TEXT, claim_until TEXT, disconnected_reason TEXT,"
            " disconnected_at TEXT)"
        )
        # a file made before the disconnected state was kept gets its two columns
        self.db.add_missing_columns(t, {"disconnected_reason": "TEXT", "disconnected_at": "TEXT"})
        self._load = (
            "SELECT data, version, claim_holder, claim_until, disconnected_reason, disconnected_at"  # noqa: S608
            f" FROM {t} WHERE id = 1"
        )
        self._version = f"SELECT version, claim_until, disconnected_at FROM {t} WHERE id = 1"  # noqa: S608
        self._claim = f"UPDATE {t} SET claim_holder = ?, claim_until = ? WHERE id = 1"  # noqa: S608
        self._save = (
            f"INSERT INTO {t} (id, data, version, claim_holder, claim_until) VALUES (1, ?, ?, NULL, NULL)"  # noqa: S608
            " ON CONFLICT(id) DO UPDATE SET data = excluded.data, version = excluded.version,"
            " claim_holder = NULL, claim_until = NULL, disconnected_reason = NULL, disconnected_at = NULL"
        )
        self._release = (
            f"UPDATE {t} SET claim_holder = NULL, claim_until = NULL"  # noqa: S608
            " WHERE id = 1 AND version = ? AND claim_holder = ?"
        )
        self._disconnect = (
            f"UPDATE {t} SET claim_holder = NULL, claim_until = NULL, disconnected_reason = ?,"  # noqa: S608
            " disconnected_at = ? WHERE id = 1"
        )

    def load_token(self) -> StoredToken | None:
        with self.db.transaction() as db:
            row = db.execute(self._load).fetchone()
        if row is None:
            return None
        until = datetime.fromisoformat(row[3]) if row[3] else None
        since = datetime.fromisoformat(row[5]) if row[5] else None
        return StoredToken(TokenSet.from_json(row[0]), row[1], row[2], until, row[4], since)

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        with self.db.transaction(immediate=True) as db:
            row = db.execute(self._version).fetchone()
            live = row is not None and row[1] is not None and datetime.fromisoformat(row[1]) > now
            if row is None or row[0] != version or live:
                return False
            db.execute(self._claim, (holder, until.isoformat()))
            return True

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        with self.db.transaction(immediate=True) as db:
            row = db.execute(self._version).fetchone()
            current = row[0] if row else None
            if current != expected_version:
                return None
            version = (current or 0) + 1
            db.execute(self._save, (tokens.to_json(), version))
            return StoredToken(tokens, version)

    def release_refresh(self, version: int, holder: str) -> None:
        with self.db.transaction(immediate=True) as db:
            db.execute(self._release, (version, holder))

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        with self.db.transaction(immediate=True) as db:
            row = db.execute(self._version).fetchone()
            if row is None or row[0] != version:
                return False
            if row[2] is None:
                db.execute(self._disconnect, (reason, at.isoformat()))
            return True
