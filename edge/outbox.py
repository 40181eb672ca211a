"""The gateway's durable outbox: every signed batch is on disk before it is published,
and leaves only when the backend's application-level ack covers its seq
(never on PUBACK alone: a broker that crashes loses its queue).

SQLite in WAL mode. Calls are short and blocking; the agent runs them in a thread.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    epoch INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (epoch, seq));
"""


@dataclass(frozen=True)
class Batch:
    epoch: int
    seq: int
    payload: bytes


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a power cut must not lose a batch
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_boot_epoch(self) -> int:
        """Increment and return the persisted boot epoch (seqs restart at 1 per epoch)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
            epoch = (row[0] if row else 0) + 1
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (epoch,))
            self._db.execute("COMMIT")
        return epoch

    def append(self, batch: Batch) -> None:
        with self._lock:
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?)",
                             (batch.epoch, batch.seq, batch.payload))

    def pending(self, after: tuple[int, int] = (0, 0), limit: int = 100) -> list[Batch]:
        """Unacknowledged batches after (epoch, seq), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT epoch, seq, payload FROM batches WHERE (epoch, seq) > (?, ?) "
                "ORDER BY epoch, seq LIMIT ?", (*after, limit)).fetchall()
        return [Batch(*row) for row in rows]

    def ack(self, epoch: int, acked_seq: int) -> int:
        """Drop every batch of `epoch` up to `acked_seq`; returns how many left."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq <= ?",
                                      (epoch, acked_seq))
        return cursor.rowcount

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM batches").fetchone()[0]
