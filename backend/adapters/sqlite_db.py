"""Opening an embedded SQLite database the way every adapter here wants it."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Per connection, filled only as pages are read. SQLite's default, 2 MiB, is less than the
# index pages a commit touches (the readings' (sensor, time) index: a page per sensor of a
# commit), so each commit read most of them back from the OS: 15-22 % of ingest's CPU
# (docs/storage.md, "Throughput").
PAGE_CACHE_KIB = 64 * 1024


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """WAL (readers never block the writer), FULL sync (an ack promises a durable write), a
    page cache the size of a commit's working set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (autocommit connections need it spelled out)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
