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

SQLite in WAL mode. Calls are short and blocking; the agent runs them in a thread. A write
that fails (disk full, read-only, I/O error) is rolled back whole and raised: the caller
keeps what it was storing and tries again. A corrupt file found at start is moved aside
(`outbox.sqlite.corrupt-<unix s>`, with its WAL) and a fresh outbox begins; a state_dir
that cannot be written at all raises OutboxUnavailable, one line that says why.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import threading
import time
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
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_PERM = 13, 8, 14, 3
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


class OutboxUnavailable(Exception):
    """state_dir cannot hold an outbox (read-only, no permission): nothing can be kept."""


def storage_error_kind(exc: BaseException) -> str:
    """'full', 'readonly', 'corrupt' or 'io', for a failed write to state_dir."""
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        return {_SQLITE_FULL: "full", _SQLITE_READONLY: "readonly", _SQLITE_CANTOPEN: "readonly",
                _SQLITE_PERM: "readonly", _SQLITE_CORRUPT: "corrupt", _SQLITE_NOTADB: "corrupt"}.get(code, "io")
    if isinstance(exc, OSError):
        return {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "readonly",
                errno.EACCES: "readonly", errno.EPERM: "readonly"}.get(exc.errno, "io")
    return "io"


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
        self.max_bytes, self._path = max_bytes, path
        self._broken = False  # a write failed: reconnect before the next one
        self.recreated = False  # a corrupt file was moved aside: the boot epoch restarts high
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open(path)
            except sqlite3.DatabaseError as exc:
                if storage_error_kind(exc) != "corrupt":
                    raise
                self._move_aside(path, exc)
                self._db = self._open(path)
        except (sqlite3.Error, OSError) as exc:
            if storage_error_kind(exc) in ("readonly", "io"):
                raise OutboxUnavailable(f"state_dir {path.parent} cannot hold the outbox: {exc}") from exc
            raise
        self._lock = threading.Lock()
        self._bytes = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches").fetchone()[0]

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a power cut must not lose a batch
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(batches)")}
            if "readings" not in columns:  # an outbox written before the column existed
                db.execute("ALTER TABLE batches ADD COLUMN readings INTEGER NOT NULL DEFAULT 0")
            db.execute("SELECT count(*) FROM batches").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, path: Path, exc: BaseException) -> None:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.error("outbox %s is corrupt (%s): moved to %s, starting a fresh outbox; its unsent "
                  "batches are lost to the backend (an unknown gap)", path, exc, aside.name)
        for suffix in ("", "-wal", "-shm"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                source.replace(aside.with_name(aside.name + suffix))
        self.recreated = True

    @contextlib.contextmanager
    def _transaction(self):
        """BEGIN IMMEDIATE .. COMMIT under the lock; on any error, ROLLBACK (the byte count too)."""
        with self._lock:
            if self._broken:  # SQLite may keep a failed write's error state: start afresh
                self._db.close()
                self._db, self._broken = self._open(self._path), False
            bytes_before = self._bytes
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._bytes = bytes_before
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                self._broken = True
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_boot_epoch(self, at_least: int = 0) -> int:
        """Increment and return the persisted boot epoch (seqs restart at 1 per epoch).
        `at_least`: after a corrupt outbox, a floor above any epoch the old file held."""
        with self._transaction():
            epoch = max(self._meta("epoch") + 1, at_least)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (epoch,))
        return epoch

    def append(self, batch: Batch) -> int:
        """Store `batch`; returns how many readings the disk bound evicted to make room."""
        return self.append_many([batch])

    def append_many(self, batches: list[Batch], journal_segment: int | None = None) -> int:
        """Store `batches` in one transaction, which also records that the sample journal's
        segments up to `journal_segment` are done; returns the readings evicted for room."""
        evicted = 0
        with self._transaction():
            for batch in batches:
                self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?)",
                                 (batch.epoch, batch.seq, batch.payload, batch.readings))
                self._bytes += len(batch.payload)
                evicted += self._drop_oldest_beyond_bound((batch.epoch, batch.seq))
            if journal_segment is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('journal_done', ?)",
                                 (max(journal_segment, self._meta("journal_done")),))
        return evicted

    def record_evicted(self, evicted: list[tuple[int, int, int]]) -> None:
        """(epoch, seq, readings) of batches dropped before they reached the outbox (it could
        not be written): announced to the backend like those the size cap evicts."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO evicted VALUES (?, ?, ?)", evicted)

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
        with self._transaction():
            size = self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM batches "
                                    "WHERE epoch = ? AND seq <= ?", (epoch, acked_seq)).fetchone()[0]
            cursor = self._db.execute("DELETE FROM batches WHERE epoch = ? AND seq <= ?",
                                      (epoch, acked_seq))
            self._db.execute("DELETE FROM evicted WHERE epoch = ? AND seq <= ?", (epoch, acked_seq))
            self._bytes -= size
        return cursor.rowcount

    def settle(self, epoch: int, stored: Iterable[int], refused: Mapping[int, str],
               dropped: Iterable[int]) -> Settled:
        """Apply a ranged ack: stored batches leave, refused ones move to `refused`,
        evicted ones the backend settled are forgotten (counted as dropped if it never got them)."""
        stored, dropped = [(epoch, s) for s in stored], [(epoch, s) for s in dropped]
        with self._transaction():
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
        with self._transaction():
            self._db.execute("DELETE FROM seen_commands WHERE expires_at_ms < ?", (now_ms,))
            inserted = self._db.execute("INSERT OR IGNORE INTO seen_commands VALUES (?, ?)",
                                        (command_id, expires_at_ms)).rowcount
        return inserted == 1

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0
