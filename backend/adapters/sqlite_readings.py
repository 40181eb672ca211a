"""The embedded time-series store: readings in SQLite (the default `ReadingStore`).

One row per reading. A redelivered message is ignored: `stored_messages` holds the
keys (gateway, epoch, seq) written in the same transaction (a key per message costs
1/50 of a unique index per reading). `value` holds the kind's main number (weight_kg, temperature_c,
humidity_pct, tag count) for quick range queries; `values_json` keeps everything.
The latest state (last value per sensor, tag presence per reader) is updated in the
same transaction. Retention: `expire` folds raw readings older than the cut-off into
hourly rows (`readings_hourly`: count, min, max and sum of the main value; readings without one are
not counted there) and deletes them (docs/storage.md).
"""
from __future__ import annotations

import sqlite3
import threading
from itertools import groupby
from pathlib import Path
from typing import Any, Iterable, Sequence

import orjson

from backend.adapters.message_keys import key_lookups
from backend.adapters.readings_live import live_state, reading_query_sql, stored_readings
from backend.adapters.sqlite_db import connect, transaction
from backend.ports.ingest import AcceptedMessage, LatestValue, ReadingQuery, StoredReading, TagPresence
from edge.protocol.wire_fast import Rows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
    sensor TEXT NOT NULL, kind TEXT NOT NULL, time_ms INTEGER NOT NULL, quality TEXT NOT NULL,
    value REAL, values_json TEXT NOT NULL, historical INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stored_messages (
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_sensor_time ON readings (sensor, time_ms);
"""
_LATEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    sensor TEXT PRIMARY KEY, gateway TEXT NOT NULL, kind TEXT NOT NULL, time_ms INTEGER NOT NULL,
    quality TEXT NOT NULL, value REAL, values_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rfid_rounds (reader TEXT PRIMARY KEY, last_round_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tag_presence (
    reader TEXT NOT NULL, epc TEXT NOT NULL, last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (reader, epc)) WITHOUT ROWID;
"""
_HOURLY_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings_hourly (
    sensor TEXT NOT NULL, kind TEXT NOT NULL, hour_ms INTEGER NOT NULL, count INTEGER NOT NULL,
    min_value REAL NOT NULL, max_value REAL NOT NULL, sum_value REAL NOT NULL,
    PRIMARY KEY (sensor, kind, hour_ms)) WITHOUT ROWID;
"""

_MAIN_VALUE = {"weight": "weight_kg", "temperature": "temperature_c", "humidity": "humidity_pct"}
_HOUR_MS = 3_600_000
_EXPIRE_CHUNK_ROWS = 20_000


_INSERT = ("INSERT INTO readings (gateway, epoch, seq, idx, sensor, kind, time_ms, quality, value, "
           "values_json, historical) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
_INSERT_LIVE = _INSERT.replace(",?)", ",0)")


def message_rows(m: AcceptedMessage) -> tuple[list, list, int]:
    """(rows, good RFID readings as (sensor, time_ms, values), oldest device time) of a message.
    A row: (gateway, epoch, seq, idx, sensor, kind, time_ms, quality, main value, values_json).
    The fast decoder worked them out while validating; else they are built here."""
    readings = m.envelope.readings
    if type(readings) is Rows:
        return readings.rows, readings.rfid, readings.min_ms
    gateway, epoch, seq = m.key
    rows = [(gateway, epoch, seq, idx, r.sensor, r.kind, r.time_ms, r.quality, main_value(r.kind, r.values),
             orjson.dumps(r.values).decode()) for idx, r in enumerate(readings)]
    rfid = [(r.sensor, r.time_ms, r.values) for r in readings if r.kind == "rfid" and r.quality != "bad"]
    return rows, rfid, min(r.time_ms for r in readings)


def main_value(kind: str, values: Any) -> float | None:
    if kind == "rfid":
        return float(len(values.get("tags", ())))
    return values.get(_MAIN_VALUE[kind])


class LatestState:
    """Last value per sensor and tag presence per reader, on a connection the caller
    holds a transaction on (so they move with the readings)."""

    SCHEMA = _LATEST_SCHEMA

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db


    def update(self, messages: Sequence[AcceptedMessage]) -> None:
        """Newest live reading per sensor, and which tags each reader saw in its rounds."""
        self.update_rows([(m, *message_rows(m)) for m in messages])

    def update_rows(self, batch: Sequence[tuple[AcceptedMessage, list, list, int]]) -> None:
        """`batch`: (message, its rows, its good RFID readings, its oldest device time)."""
        newest, rounds, tags_seen = live_state(batch)
        self._db.executemany(
            "INSERT INTO latest VALUES (?5,?1,?6,?7,?8,?9,?10) ON CONFLICT (sensor) DO UPDATE SET "
            "gateway=excluded.gateway, kind=excluded.kind, time_ms=excluded.time_ms, "
            "quality=excluded.quality, value=excluded.value, values_json=excluded.values_json "
            "WHERE excluded.time_ms >= latest.time_ms", list(newest.values()))
        if rounds:
            self._db.executemany(
                "INSERT INTO rfid_rounds VALUES (?,?) ON CONFLICT (reader) DO UPDATE SET "
                "last_round_ms=max(last_round_ms, excluded.last_round_ms)", rounds.items())
        if tags_seen:
            self._db.executemany(
                "INSERT INTO tag_presence VALUES (?,?,?) ON CONFLICT (reader, epc) DO UPDATE SET "
                "last_seen_ms=max(last_seen_ms, excluded.last_seen_ms)",
                [(reader, epc, seen_ms) for (reader, epc), seen_ms in tags_seen.items()])

    def latest(self, sensors: Sequence[str] = ()) -> list[LatestValue]:
        sql = "SELECT sensor, gateway, kind, time_ms, quality, value, values_json FROM latest"
        if sensors:
            sql += f" WHERE sensor IN ({','.join('?' * len(sensors))})"
        rows = self._db.execute(sql + " ORDER BY sensor", list(sensors)).fetchall()
        return [LatestValue(*row[:6], orjson.loads(row[6])) for row in rows]

    def tags(self, reader: str) -> list[TagPresence]:
        rows = self._db.execute(
            "SELECT t.epc, t.last_seen_ms, t.last_seen_ms >= r.last_round_ms FROM tag_presence t "
            "JOIN rfid_rounds r ON r.reader = t.reader WHERE t.reader = ? ORDER BY t.epc",
            (reader,)).fetchall()
        return [TagPresence(reader, epc, seen_ms, bool(present)) for epc, seen_ms, present in rows]


class SqliteReadingStore:
    def __init__(self, path: Path) -> None:
        self._db = connect(path, _SCHEMA + _LATEST_SCHEMA + _HOURLY_SCHEMA)
        self._lock = threading.Lock()
        self._latest = LatestState(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, messages: Sequence[AcceptedMessage]) -> int:
        with self._lock, transaction(self._db):
            batch = [(m, *message_rows(m)) for m in self._not_yet_stored(messages)]
            stored = 0
            # In message order (ids follow the stream): runs of all-live messages go in as they
            # are; a message with history gets its `historical` flags spelled out.
            for has_history, run in groupby(batch, key=lambda b: b[3] < b[0].live_after_ms):
                if has_history:
                    rows = [(*row, int(row[6] < m.live_after_ms)) for m, m_rows, _, _ in run for row in m_rows]
                    self._db.executemany(_INSERT, rows)
                else:
                    rows = [row for _, m_rows, _, _ in run for row in m_rows]
                    self._db.executemany(_INSERT_LIVE, rows)
                stored += len(rows)
            self._latest.update_rows(batch)
            return stored

    def _not_yet_stored(self, messages: Sequence[AcceptedMessage]) -> list[AcceptedMessage]:
        """Record the keys of the messages not stored before, and return those messages."""
        keys = [m.key for m in messages]
        # by key (a row-value IN list scanned the whole table: 0.2 s a batch once a million
        # messages were stored)
        stored = {row for sql, parameters in key_lookups("stored_messages", keys)
                  for row in self._db.execute(sql, parameters)}
        fresh = []
        for m, key in zip(messages, keys):
            if key not in stored:
                stored.add(key)  # a message twice in one batch is stored once
                fresh.append(m)
        self._db.executemany("INSERT INTO stored_messages VALUES (?,?,?)", [m.key for m in fresh])
        return fresh

    def latest(self, sensors: Sequence[str] = ()) -> list[LatestValue]:
        with self._lock:
            return self._latest.latest(sensors)

    def tags(self, reader: str) -> list[TagPresence]:
        with self._lock:
            return self._latest.tags(reader)

    def query(self, query: ReadingQuery) -> list[StoredReading]:
        sql, args = reading_query_sql(query, "readings", "?")
        with self._lock:
            return stored_readings(self._db.execute(sql, args).fetchall())

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM readings").fetchone()[0]

    def expire(self, before_ms: int) -> int:
        """Fold raw readings with device time before `before_ms` into hourly rows, delete them."""
        expired = 0
        while True:
            with self._lock, transaction(self._db):
                ids = [row[0] for row in self._db.execute(
                    "SELECT id FROM readings WHERE time_ms < ? LIMIT ?", (before_ms, _EXPIRE_CHUNK_ROWS))]
                self._fold_into_hourly(ids)
                self._db.executemany("DELETE FROM readings WHERE id = ?", ((i,) for i in ids))
            expired += len(ids)
            if len(ids) < _EXPIRE_CHUNK_ROWS:
                return expired

    def _fold_into_hourly(self, ids: Iterable[int]) -> None:
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS expiring (id INTEGER PRIMARY KEY)")
        self._db.execute("DELETE FROM expiring")
        self._db.executemany("INSERT INTO expiring VALUES (?)", ((i,) for i in ids))
        self._db.execute(
            "INSERT INTO readings_hourly SELECT sensor, kind, time_ms / ? * ?, count(value), min(value), "
            "max(value), total(value) FROM readings WHERE id IN (SELECT id FROM expiring) "
            "AND value IS NOT NULL GROUP BY sensor, kind, time_ms / ? "
            "ON CONFLICT (sensor, kind, hour_ms) DO UPDATE SET count = count + excluded.count, "
            "min_value = min(min_value, excluded.min_value), max_value = max(max_value, excluded.max_value), "
            "sum_value = sum_value + excluded.sum_value", (_HOUR_MS, _HOUR_MS, _HOUR_MS))
