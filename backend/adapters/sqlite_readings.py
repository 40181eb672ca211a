"""The embedded time-series store: readings in SQLite (the default `ReadingStore`).

One row per reading, keyed by (gateway, epoch, seq, index) so a redelivered message
is ignored. `value` holds the kind's main number (weight_kg, temperature_c,
humidity_pct, tag count) for quick range queries; `values_json` keeps everything.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

from backend.adapters.sqlite_db import connect, transaction
from backend.ports import AcceptedMessage, ReadingQuery, StoredReading

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
    sensor TEXT NOT NULL, kind TEXT NOT NULL, time_ms INTEGER NOT NULL, quality TEXT NOT NULL,
    value REAL, values_json TEXT NOT NULL, historical INTEGER NOT NULL,
    UNIQUE (gateway, epoch, seq, idx));
CREATE INDEX IF NOT EXISTS readings_by_sensor_time ON readings (sensor, time_ms);
"""

_MAIN_VALUE = {"weight": "weight_kg", "temperature": "temperature_c", "humidity": "humidity_pct"}


def _main_value(kind: str, values: dict) -> float | None:
    if kind == "rfid":
        return float(len(values.get("tags", ())))
    return values.get(_MAIN_VALUE[kind])


class SqliteReadingStore:
    def __init__(self, path: Path) -> None:
        self._db = connect(path, _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, messages: Sequence[AcceptedMessage]) -> int:
        rows = [
            (m.envelope.gateway, m.envelope.epoch, m.envelope.seq, idx, r.sensor, r.kind, r.time_ms,
             r.quality, _main_value(r.kind, r.values), json.dumps(r.values, separators=(",", ":")),
             int(r.time_ms < m.live_after_ms))
            for m in messages for idx, r in enumerate(m.envelope.readings)]
        with self._lock, transaction(self._db):
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO readings (gateway, epoch, seq, idx, sensor, kind, time_ms, "
                "quality, value, values_json, historical) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            return self._db.total_changes - before

    def query(self, query: ReadingQuery) -> list[StoredReading]:
        where, args = ["id > ?"], [query.after_id]
        if query.sensors:
            where.append(f"sensor IN ({','.join('?' * len(query.sensors))})")
            args.extend(query.sensors)
        for column, value in (("gateway", query.gateway), ("kind", query.kind)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.from_ms is not None:
            where.append("time_ms >= ?")
            args.append(query.from_ms)
        if query.to_ms is not None:
            where.append("time_ms < ?")
            args.append(query.to_ms)
        sql = (f"SELECT id, gateway, sensor, kind, time_ms, quality, values_json, historical "
               f"FROM readings WHERE {' AND '.join(where)} ORDER BY id LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, (*args, query.limit)).fetchall()
        return [StoredReading(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]),
                              bool(row[7])) for row in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM readings").fetchone()[0]
