"""One SQLite file shared by the embedded store, token row, rate-limit log and queue.

Each thread keeps its own connection (opening one costs more than most of the statements run on it), the file is
in WAL mode so readers never block the writer, and :meth:`SQLiteDB.transaction` with ``immediate=True`` takes
the write lock before reading, so a read-decide-write never races another process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


class SQLiteDB:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.connection().execute("PRAGMA journal_mode=WAL")

    def connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 30000")
            self._local.db = db
        return db

    def script(self, sql: str) -> None:
        """Run DDL (``CREATE TABLE IF NOT EXISTS ...``); it commits on its own."""
        self.connection().executescript(sql)

    def add_missing_columns(self, table: str, columns: Mapping[str, str]) -> None:
        """Give a file made before some of ``table``'s columns existed those columns (name → type and default).
        Another process may be adding them at the same moment: a duplicate column is fine."""
        present = {r[1] for r in self.connection().execute(f"PRAGMA table_info({table})")}
        for column, kind in columns.items():
            if column not in present:
                try:
                    self.script(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = self.connection()
        db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def tables_of(db: sqlite3.Connection) -> dict[str, frozenset[str]]:
    """Every table of ``db`` (SQLite's own left out) with its column names."""
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {name: frozenset(r[1] for r in db.execute(f"PRAGMA table_info({name})")) for name in names}


def read_tables(path: str | Path) -> dict[str, frozenset[str]]:
    """:func:`tables_of` the file at ``path``, opened read-only (nothing is created or changed). Raises
    ``sqlite3.DatabaseError`` for a file that is not a SQLite database, ``sqlite3.OperationalError`` for one that
    cannot be opened."""
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return tables_of(db)
    finally:
        db.close()


def missing_tables(have: Mapping[str, frozenset[str]], want: Mapping[str, frozenset[str]]) -> list[str]:
    """What ``have`` lacks of ``want``: ``"table ledger"``, ``"column ledger.intents"``."""
    gaps: list[str] = []
    for table, columns in want.items():
        if table not in have:
            gaps.append(f"table {table}")
            continue
        gaps += [f"column {table}.{c}" for c in sorted(columns - have[table])]
    return gaps
