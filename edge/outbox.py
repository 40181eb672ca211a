"""The gateway's durable outbox: every signed batch is on disk before it is published,
and leaves only when the backend's application-level ack covers its seq
(never on PUBACK alone: a broker that crashes loses its queue).

Disk bound: the payloads kept may total at most `max_bytes`. Appending beyond it evicts
the OLDEST unacknowledged batches (never the one just written): after a long outage the
backend gets the most recent state of the goods first-hand. An evicted batch's (epoch,
seq, readings) is kept in `evicted` and announced to the backend (a signed drop notice)
until the backend settles it: as stored (it had arrived before its ack did: nothing
lost) or as dropped (then, and only then, its readings count as dropped: the outbox's
`dropped_readings`, reported in birth and heartbeat, and the agent's pw_edge_dropped_total).

A batch the backend refuses for good (a negative ack, with its reason) leaves the outbox
for `refused`, payload and reason kept for forensics, and is never sent again.

SQLite in WAL mode. Calls are short and blocking; the agent runs them in a thread.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

log = logging.getLogger("pledgewatch.edge.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    epoch INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
    readings INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (epoch, seq));
CREATE TABLE IF NOT EXISTS evicted (
    epoch INTEGER NOT NULL, seq INTEGER NOT NULL, readings INTEGER NOT NULL,
    PRIMARY KEY (epoch, seq));
CREATE TABLE IF NOT EXISTS refused (
    epoch INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (epoch, seq));
CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
"""
UNBOUNDED = 2**62


@dataclass(frozen=True)
class Settled:
    """What one ranged ack did to the outbox."""
    removed: int = 0  # batches that left the outbox (stored or refused)
    refused: int = 0  # of which refused (kept in `refused`)
    dropped_readings: int = 0  # evicted readings the backend confirmed it never got


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
        """Store `batch`; returns how many readings the disk bound evicted to make room."""
        return self.append_many([batch])

    def append_many(self, batches: list[Batch], journal_segment: int | None = None) -> int:
        """Store `batches` in one transaction, which also records that the sample journal's
        segments up to `journal_segment` are done; returns the readings evicted for room."""
        evicted = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for batch in batches:
                self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?)",
                                 (batch.epoch, batch.seq, batch.payload, batch.readings))
                self._bytes += len(batch.payload)
                evicted += self._drop_oldest_beyond_bound((batch.epoch, batch.seq))
            if journal_segment is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('journal_done', ?)",
                                 (max(journal_segment, self._meta("journal_done")),))
            self._db.execute("COMMIT")
        return evicted

    def journal_done(self) -> int:
        """The last sample-journal segment whose readings are in the outbox."""
        with self._lock:
            return self._meta("journal_done")

    def _drop_oldest_beyond_bound(self, keep: tuple[int, int]) -> int:
        evicted_readings = 0
        while self._bytes > self.max_bytes:
            row = self._db.execute(
                "SELECT epoch, seq, length(payload), readings FROM batches "
                "WHERE (epoch, seq) != (?, ?) ORDER BY epoch, seq LIMIT 1", keep).fetchone()
            if row is None:
                break
            epoch, seq, size, readings = row
            self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq = ?", (epoch, seq))
            self._db.execute("INSERT OR REPLACE INTO evicted VALUES (?, ?, ?)", (epoch, seq, readings))
            self._bytes -= size
            evicted_readings += readings
            log.warning("outbox over %d bytes: evicted batch (%d, %d) with %d readings",
                        self.max_bytes, epoch, seq, readings)
        return evicted_readings

    def pending(self, after: tuple[int, int] = (0, 0), limit: int = 100) -> list[Batch]:
        """Unacknowledged batches after (epoch, seq), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT epoch, seq, payload, readings FROM batches WHERE (epoch, seq) > (?, ?) "
                "ORDER BY epoch, seq LIMIT ?", (*after, limit)).fetchall()
        return [Batch(*row) for row in rows]

    def ack(self, epoch: int, acked_seq: int) -> int:
        """A legacy ack: drop every batch of `epoch` up to `acked_seq`; returns how many."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            size = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches "
                                    "WHERE epoch = ? AND seq <= ?", (epoch, acked_seq)).fetchone()[0]
            cursor = self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq <= ?",
                                      (epoch, acked_seq))
            self._db.execute("DELETE FROM evicted WHERE epoch = ? AND seq <= ?", (epoch, acked_seq))
            self._db.execute("COMMIT")
            self._bytes -= size
        return cursor.rowcount

    def settle(self, epoch: int, stored: Iterable[int], refused: Mapping[int, str],
               dropped: Iterable[int]) -> Settled:
        """Apply a ranged ack: stored batches leave, refused ones move to `refused`,
        evicted ones the backend settled are forgotten (counted as dropped if it never got them)."""
        stored, dropped = [(epoch, s) for s in stored], [(epoch, s) for s in dropped]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            moved = self._db.executemany(
                "INSERT OR IGNORE INTO refused SELECT epoch, seq, payload, ? FROM batches "
                "WHERE epoch = ? AND seq = ?", [(reason, epoch, seq) for seq, reason in refused.items()]).rowcount
            gone = stored + [(epoch, seq) for seq in refused]
            size = sum(self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches "
                                        "WHERE epoch = ? AND seq = ?", key).fetchone()[0] for key in gone)
            removed = self._delete("batches", gone)
            self._delete("evicted", stored)
            lost = sum(self._db.execute("SELECT coalesce(sum(readings), 0) FROM evicted "
                                        "WHERE epoch = ? AND seq = ?", key).fetchone()[0] for key in dropped)
            self._delete("evicted", dropped)
            if lost:
                total = self._meta("dropped_readings") + lost
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dropped_readings', ?)", (total,))
            self._db.execute("COMMIT")
            self._bytes -= size
        return Settled(removed, max(moved, 0), lost)

    def _delete(self, table: str, keys: list[tuple[int, int]]) -> int:
        return sum(self._db.execute(f"DELETE FROM {table} WHERE epoch = ? AND seq = ?", key).rowcount
                   for key in keys)

    def evicted(self) -> dict[int, list[int]]:
        """Seqs evicted by the disk bound and not yet settled by the backend, per epoch."""
        with self._lock:
            rows = self._db.execute("SELECT epoch, seq FROM evicted ORDER BY epoch, seq").fetchall()
        out: dict[int, list[int]] = {}
        for epoch, seq in rows:
            out.setdefault(epoch, []).append(seq)
        return out

    def evicted_readings(self) -> int:
        """Readings evicted by the disk bound whose fate the backend has not told yet."""
        with self._lock:
            return self._db.execute("SELECT coalesce(sum(readings), 0) FROM evicted").fetchone()[0]

    def refused(self) -> list[tuple[int, int, str, bytes]]:
        """(epoch, seq, reason, payload) of every batch the backend refused, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT epoch, seq, reason, payload FROM refused ORDER BY epoch, seq").fetchall()

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM batches").fetchone()[0]

    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def dropped_readings(self) -> int:
        """Readings evicted by the disk bound that the backend confirmed it never got,
        over this outbox's whole life."""
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
