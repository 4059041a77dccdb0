"""The embedded queue: one SQLite table (WAL, through :class:`sdk.sqlite_db.SQLiteDB`, so it can share the
store's file), safe for several worker processes on one machine.

A row is a message of a named queue. ``visible_at`` (epoch seconds on the injected clock) hides it while a
receiver works on it or while it waits out a delay; ``dead`` marks the dead-letter queue. Every receive runs in
``BEGIN IMMEDIATE``, which takes SQLite's write lock before reading, so two receivers never get the same message
while its visibility lasts. Each receive gives the message a new ``receipt``; delete, retry and dead-letter
match on it, so a receiver that held the message too long (and lost it to another) changes nothing.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sdk.clock import Clock, SystemClock
from sdk.queue import DEFAULT_MAX_RECEIVES, Message, QueueDepth, decode_body, encode_body
from sdk.sqlite_db import SQLiteDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, receipt TEXT, visible_at REAL NOT NULL, sent_at REAL NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0, dead_at REAL, dead_reason TEXT);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, dead, visible_at);
"""


class SQLiteQueue:
    def __init__(
        self,
        path: str | Path,
        name: str = "invoices",
        max_receives: int = DEFAULT_MAX_RECEIVES,
        clock: Clock | None = None,
    ) -> None:
        if max_receives < 1:
            raise ValueError("max_receives must be at least 1")
        self.path = str(path)
        self.name = name
        self.max_receives = max_receives
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.db = SQLiteDB(self.path)
        self.db.script(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteQueue({self.path!r}, name={self.name!r}, max_receives={self.max_receives})"

    def _tx(self, immediate: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return self.db.transaction(immediate=immediate)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ------------------------------------------------------------------------------------------- messages

    def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
        return self._send([body], delay)[0]

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> list[str]:
        return self._send(bodies, 0.0) if bodies else []

    def _send(self, bodies: Sequence[dict[str, Any]], delay: float) -> list[str]:
        now = self._now()
        rows = [(uuid.uuid4().hex, self.name, encode_body(b), now + max(0.0, delay), now) for b in bodies]
        with self._tx() as db:  # all or nothing
            db.executemany(
                "INSERT INTO queue_messages (id, queue, body, visible_at, sent_at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return [row[0] for row in rows]

    def receive(self, max_messages: int = 10, visibility_timeout: float = 60) -> list[Message]:
        now = self._now()
        received: list[Message] = []
        last_seq = 0
        with self._tx() as db:
            while len(received) < max_messages:
                rows = db.execute(
                    "SELECT seq, id, body, attempts FROM queue_messages"
                    " WHERE queue = ? AND dead = 0 AND visible_at <= ? AND seq > ? ORDER BY seq LIMIT ?",
                    (self.name, now, last_seq, max_messages - len(received)),
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    last_seq = row["seq"]
                    if row["attempts"] >= self.max_receives:
                        db.execute(
                            "UPDATE queue_messages SET dead = 1, dead_at = ?, receipt = NULL, dead_reason = ?"
                            " WHERE seq = ?",
                            (now, f"received {row['attempts']} times", row["seq"]),
                        )
                        continue
                    receipt = uuid.uuid4().hex
                    db.execute(
                        "UPDATE queue_messages SET attempts = attempts + 1, receipt = ?, visible_at = ?"
                        " WHERE seq = ?",
                        (receipt, now + max(0.0, visibility_timeout), row["seq"]),
                    )
                    received.append(
                        Message(row["id"], decode_body(row["body"]), row["attempts"] + 1, receipt)
                    )
        return received

    def delete(self, message: Message) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM queue_messages WHERE queue = ? AND id = ? AND receipt = ? AND dead = 0",
                (self.name, message.id, message.receipt),
            )

    def retry_later(self, message: Message, delay: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND id = ? AND receipt = ? AND dead = 0",
                (self._now() + max(0.0, delay), self.name, message.id, message.receipt),
            )

    def hold(self, message: Message, delay: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE queue_messages SET visible_at = ?, attempts = MAX(0, attempts - 1)"
                " WHERE queue = ? AND id = ? AND receipt = ? AND dead = 0",
                (self._now() + max(0.0, delay), self.name, message.id, message.receipt),
            )

    def dead_letter(self, message: Message, reason: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE queue_messages SET dead = 1, dead_at = ?, dead_reason = ?, receipt = NULL"
                " WHERE queue = ? AND id = ? AND receipt = ? AND dead = 0",
                (self._now(), reason, self.name, message.id, message.receipt),
            )

    # --------------------------------------------------------------------------------------- dead letters

    def dead_letters(self, limit: int = 100) -> list[Message]:
        with self._tx(immediate=False) as db:
            rows = db.execute(
                "SELECT id, body, attempts, dead_reason FROM queue_messages WHERE queue = ? AND dead = 1"
                " ORDER BY dead_at, seq LIMIT ?",
                (self.name, limit),
            ).fetchall()
        return [
            Message(r["id"], decode_body(r["body"]), r["attempts"], "", r["dead_reason"] or "") for r in rows
        ]

    def redrive(
        self, message_ids: Sequence[str] | None = None, *, on_moved: Callable[[int], None] | None = None
    ) -> int:
        moved = self._redrive(message_ids)
        if on_moved is not None:
            on_moved(moved)  # one statement: all at once
        return moved

    def _redrive(self, message_ids: Sequence[str] | None) -> int:
        now = self._now()
        with self._tx() as db:
            if message_ids is None:
                cursor = db.execute(
                    "UPDATE queue_messages SET dead = 0, dead_at = NULL, dead_reason = NULL, attempts = 0,"
                    " receipt = NULL, visible_at = ? WHERE queue = ? AND dead = 1",
                    (now, self.name),
                )
                return cursor.rowcount
            moved = 0
            for message_id in dict.fromkeys(message_ids):
                cursor = db.execute(
                    "UPDATE queue_messages SET dead = 0, dead_at = NULL, dead_reason = NULL, attempts = 0,"
                    " receipt = NULL, visible_at = ? WHERE queue = ? AND dead = 1 AND id = ?",
                    (now, self.name, message_id),
                )
                moved += cursor.rowcount
            return moved

    def depth(self) -> QueueDepth:
        now = self._now()
        with self._tx(immediate=False) as db:
            row = db.execute(
                "SELECT"
                " COALESCE(SUM(dead = 0 AND visible_at <= ?), 0),"
                " COALESCE(SUM(dead = 0 AND visible_at > ? AND attempts > 0), 0),"
                " COALESCE(SUM(dead = 1), 0),"
                " COALESCE(SUM(dead = 0 AND visible_at > ? AND attempts = 0), 0)"
                " FROM queue_messages WHERE queue = ?",
                (now, now, now, self.name),
            ).fetchone()
        return QueueDepth(visible=row[0], in_flight=row[1], dead=row[2], delayed=row[3])
