"""The gateway's durable outbox: every signed batch is on disk before it is published,
and leaves only when the backend's application-level ack covers its seq
(never on PUBACK alone: a broker that crashes loses its queue).

Disk bound: the payloads kept may total at most `max_bytes`. Appending beyond it drops
the OLDEST unacknowledged batches (never the one just written): after a long outage the
backend gets the most recent state of the goods first-hand, and sees the dropped seqs as
gaps (`missing_seqs`). Nothing goes silently: the readings dropped are counted in the
outbox itself (survives restarts; reported in birth and heartbeat) and returned to the
caller (the agent's `pw_edge_dropped_total`).

SQLite in WAL mode. Calls are short and blocking; the agent runs them in a thread.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pledgewatch.edge.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    epoch INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
    readings INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (epoch, seq));
CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
"""
UNBOUNDED = 2**62


@dataclass(frozen=True)
class Batch:
    epoch: int
    seq: int
    payload: bytes
    readings: int = 0  # how many readings the payload carries (what a drop loses)


class Outbox:
    def __init__(self, path: Path, max_bytes: int = UNBOUNDED) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a power cut must not lose a batch
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
        if "readings" not in columns:  # an outbox written before the column existed
            self._db.execute("ALTER TABLE batches ADD COLUMN readings INTEGER NOT NULL DEFAULT 0")
        self._lock = threading.Lock()
        self._bytes = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_boot_epoch(self) -> int:
        """Increment and return the persisted boot epoch (seqs restart at 1 per epoch)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            epoch = self._meta("epoch") + 1
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (epoch,))
            self._db.execute("COMMIT")
        return epoch

    def append(self, batch: Batch) -> int:
        """Store `batch`; returns how many readings the disk bound dropped to make room."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?)",
                             (batch.epoch, batch.seq, batch.payload, batch.readings))
            self._bytes += len(batch.payload)
            dropped = self._drop_oldest_beyond_bound((batch.epoch, batch.seq))
            self._db.execute("COMMIT")
        return dropped

    def _drop_oldest_beyond_bound(self, keep: tuple[int, int]) -> int:
        dropped_readings = 0
        while self._bytes > self.max_bytes:
            row = self._db.execute(
                "SELECT epoch, seq, length(payload), readings FROM batches "
                "WHERE (epoch, seq) != (?, ?) ORDER BY epoch, seq LIMIT 1", keep).fetchone()
            if row is None:
                break
            epoch, seq, size, readings = row
            self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq = ?", (epoch, seq))
            self._bytes -= size
            dropped_readings += readings
            log.warning("outbox over %d bytes: dropped batch (%d, %d) with %d readings",
                        self.max_bytes, epoch, seq, readings)
        if dropped_readings:
            total = self._meta("dropped_readings") + dropped_readings
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dropped_readings', ?)", (total,))
        return dropped_readings

    def pending(self, after: tuple[int, int] = (0, 0), limit: int = 100) -> list[Batch]:
        """Unacknowledged batches after (epoch, seq), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT epoch, seq, payload, readings FROM batches WHERE (epoch, seq) > (?, ?) "
                "ORDER BY epoch, seq LIMIT ?", (*after, limit)).fetchall()
        return [Batch(*row) for row in rows]

    def ack(self, epoch: int, acked_seq: int) -> int:
        """Drop every batch of `epoch` up to `acked_seq`; returns how many it removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            size = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches "
                                    "WHERE epoch = ? AND seq <= ?", (epoch, acked_seq)).fetchone()[0]
            cursor = self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq <= ?",
                                      (epoch, acked_seq))
            self._db.execute("COMMIT")
            self._bytes -= size
        return cursor.rowcount

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM batches").fetchone()[0]

    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def dropped_readings(self) -> int:
        """Readings dropped by the disk bound over this outbox's whole life."""
        with self._lock:
            return self._meta("dropped_readings")

    def remember_command(self, command_id: str, expires_at_ms: int, now_ms: int) -> bool:
        """False if `command_id` was seen before (a replay); forgets expired ids."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM seen_commands WHERE expires_at_ms < ?", (now_ms,))
            inserted = self._db.execute("INSERT OR IGNORE INTO seen_commands VALUES (?, ?)",
                                        (command_id, expires_at_ms)).rowcount
            self._db.execute("COMMIT")
        return inserted == 1

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0
