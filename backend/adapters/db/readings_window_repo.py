"""The readings window in the relational database (`timeseries.window: database`): what the
SQLite window (sqlite_readings.py) keeps — raw readings, the last value per sensor, tag
presence per reader, hourly rows after retention — in PostgreSQL, so that a partition's
monitor on any host reads every reading of its gateways, whichever host's ingest stored it.
It runs on SQLite too (the tests check both behave alike), but one SQLite file is no
better shared than the embedded window.

Once per message across hosts: `append` inserts the messages' keys (gateway, epoch, seq)
with ON CONFLICT DO NOTHING, and stores the readings of the keys that insert returned; a
key another process inserted first is not returned (its readings are that process's to
store), and a key another process is inserting waits for that transaction to end.

The monitor follows readings by id (`ReadingQuery.after_id`), so ids must become visible
in id order: a reader that saw id 200 must never later find a 150 committed behind it.
The ids come from a sequence under a transaction-scoped advisory lock, taken after the
keys and the latest state are written and held to the commit: the writers' readings
inserts and commits take turns (what one SQLite file does with its one writer), while
decoding, claiming keys and upserting the latest state run side by side. Locks are taken
in one order (keys, latest rows, the window lock, each sorted), so two writers never deadlock.

Readings go in with one COPY per batch on PostgreSQL (one executemany on SQLite); the
latest state is upserted per sensor, reader and tag, never recomputed from history.
Retention deletes raw readings with RETURNING and folds what it deleted into hourly rows in
the same transaction: two hosts expiring at once each fold only the rows they deleted.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import orjson
from sqlalchemy import Connection, Engine

from backend.adapters.readings_live import live_state, reading_query_sql, stored_readings
from backend.adapters.sqlite_readings import message_rows
from backend.ports.ingest import AcceptedMessage, LatestValue, MessageKey, ReadingQuery, StoredReading, TagPresence

WINDOW_LOCK_KEY = 0x706C_7277  # "plrw": held from a batch's first reading id to its commit
_HOUR_MS = 3_600_000
_EXPIRE_CHUNK_ROWS = 20_000
_KEYS_PER_INSERT = 300  # SQLite caps bound parameters
_NAMES_PER_SELECT = 500

_COLUMNS = "gateway, epoch, seq, idx, sensor, kind, time_ms, quality, value, values_json, historical"


class _Upsert(NamedTuple):
    into: str  # the table and its columns
    types: tuple[str, ...]  # the columns' types, for PostgreSQL's arrays
    on_conflict: str

    def sql(self, postgres: bool) -> str:
        """Many rows in one statement on PostgreSQL (an array per column, unnested in the
        rows' order); one row a time on SQLite (run with executemany)."""
        rows = (f"SELECT * FROM unnest({', '.join(f'%b::{kind}[]' for kind in self.types)})" if postgres
                else f"VALUES ({', '.join('?' * len(self.types))})")
        return f"INSERT INTO {self.into} {rows} {self.on_conflict}"


_LATEST = _Upsert(
    "window_latest (sensor, gateway, kind, time_ms, quality, value, values_json)",
    ("text", "text", "text", "bigint", "text", "float8", "text"),
    "ON CONFLICT (sensor) DO UPDATE SET gateway = excluded.gateway, kind = excluded.kind, "
    "time_ms = excluded.time_ms, quality = excluded.quality, value = excluded.value, "
    "values_json = excluded.values_json WHERE excluded.time_ms >= window_latest.time_ms")
_ROUNDS = _Upsert(
    "window_rfid_rounds (reader, last_round_ms)", ("text", "bigint"),
    "ON CONFLICT (reader) DO UPDATE SET last_round_ms = excluded.last_round_ms "
    "WHERE excluded.last_round_ms > window_rfid_rounds.last_round_ms")
_TAGS = _Upsert(
    "window_tag_presence (reader, epc, last_seen_ms)", ("text", "text", "bigint"),
    "ON CONFLICT (reader, epc) DO UPDATE SET last_seen_ms = excluded.last_seen_ms "
    "WHERE excluded.last_seen_ms > window_tag_presence.last_seen_ms")
_HOURLY = _Upsert(
    "window_hourly (sensor, kind, hour_ms, count, min_value, max_value, sum_value)",
    ("text", "text", "bigint", "bigint", "float8", "float8", "float8"),
    "ON CONFLICT (sensor, kind, hour_ms) DO UPDATE SET count = window_hourly.count + excluded.count, "
    "min_value = CASE WHEN excluded.min_value < window_hourly.min_value "
    "THEN excluded.min_value ELSE window_hourly.min_value END, "
    "max_value = CASE WHEN excluded.max_value > window_hourly.max_value "
    "THEN excluded.max_value ELSE window_hourly.max_value END, "
    "sum_value = window_hourly.sum_value + excluded.sum_value")

Batch = list[tuple[AcceptedMessage, list, list, int]]  # (message, rows, good RFID readings, oldest time)


class SqlReadingWindow:
    """The `ReadingStore` port on the backend's database (the engine is the context's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._m = "%s" if self._postgres else "?"
        self._sql = {upsert: upsert.sql(self._postgres) for upsert in (_LATEST, _ROUNDS, _TAGS, _HOURLY)}

    def close(self) -> None:
        """The engine belongs to the context (it serves the registry too)."""

    # -- writes ----------------------------------------------------------------------

    def append(self, messages: Sequence[AcceptedMessage]) -> int:
        first: dict[MessageKey, AcceptedMessage] = {}
        for m in messages:
            first.setdefault(m.key, m)  # a message twice in one batch is stored once, where it came first
        unique = list(first.values())
        if not unique:
            return 0
        with self.engine.begin() as db:
            fresh = self._claim(db, sorted(m.key for m in unique))
            batch: Batch = [(m, *message_rows(m)) for m in unique if m.key in fresh]
            if not batch:
                return 0
            self._update_latest(db, batch)
            rows = [(*row, row[6] < m.live_after_ms) for m, m_rows, _, _ in batch for row in m_rows]
            if self._postgres:
                db.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WINDOW_LOCK_KEY,))
                with db.connection.dbapi_connection.cursor() as cursor:
                    with cursor.copy(f"COPY window_readings ({_COLUMNS}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            else:  # the key insert took SQLite's one write lock: ids follow commits already
                db.exec_driver_sql(f"INSERT INTO window_readings ({_COLUMNS}) VALUES ({', '.join('?' * 11)})", rows)
            return len(rows)

    def _claim(self, db: Connection, keys: list[MessageKey]) -> set[MessageKey]:
        """Insert the keys, in key order; the ones this call inserted."""
        if self._postgres:  # one statement, three arrays
            columns = list(zip(*keys))
            rows = db.exec_driver_sql(
                "INSERT INTO window_messages (gateway, epoch, seq) SELECT * FROM "
                "unnest(%b::text[], %b::bigint[], %b::bigint[]) ORDER BY 1, 2, 3 "
                "ON CONFLICT DO NOTHING RETURNING gateway, epoch, seq", (list(columns[0]), list(columns[1]),
                                                                          list(columns[2])))
            return {tuple(row) for row in rows}
        claimed: set[MessageKey] = set()
        for start in range(0, len(keys), _KEYS_PER_INSERT):
            chunk = keys[start:start + _KEYS_PER_INSERT]
            claimed.update(tuple(row) for row in db.exec_driver_sql(
                f"INSERT INTO window_messages (gateway, epoch, seq) VALUES {', '.join(['(?, ?, ?)'] * len(chunk))} "
                "ON CONFLICT DO NOTHING RETURNING gateway, epoch, seq", tuple(p for key in chunk for p in key)))
        return claimed

    def _update_latest(self, db: Connection, batch: Batch) -> None:
        """Newest live reading per sensor, and the tags each reader saw in its rounds (the
        SQLite window's rules: history never moves them), upserted in key order."""
        newest, rounds, tags_seen = live_state(batch)
        latest = [(row[4], row[0], row[5], row[6], row[7], None if row[8] is None else float(row[8]), row[9])
                  for _, row in sorted(newest.items())]
        self._upsert(db, _LATEST, latest)
        self._upsert(db, _ROUNDS, sorted(rounds.items()))
        self._upsert(db, _TAGS, [(*key, seen_ms) for key, seen_ms in sorted(tags_seen.items())])

    def _upsert(self, db: Connection, upsert: _Upsert, rows: list[tuple]) -> None:
        if rows:
            db.exec_driver_sql(self._sql[upsert], tuple(map(list, zip(*rows))) if self._postgres else rows)

    def expire(self, before_ms: int) -> int:
        """Delete raw readings with device time before `before_ms`, folding them into hourly
        rows in the same transaction."""
        expired = 0
        # PostgreSQL: by row address (an `id IN (...)` join scanned the whole table per chunk:
        # 190 ms against 16 ms a chunk of a million rows); a row another host's expire deleted
        # meanwhile is skipped, and readings are never updated, so an address is not reused
        # while this statement's snapshot can see the row.
        chunk = ("DELETE FROM window_readings WHERE ctid = ANY(ARRAY(SELECT ctid FROM window_readings "
                 "WHERE time_ms < %s LIMIT %s)) " if self._postgres else
                 "DELETE FROM window_readings WHERE id IN (SELECT id FROM window_readings WHERE time_ms < ? "
                 "LIMIT ?) ") + "RETURNING sensor, kind, time_ms, value"
        while True:
            with self.engine.begin() as db:
                gone = db.exec_driver_sql(chunk, (before_ms, _EXPIRE_CHUNK_ROWS)).all()
                hours: dict[tuple[str, str, int], list] = {}
                for sensor, kind, time_ms, value in gone:
                    if value is None:
                        continue
                    key = (sensor, kind, time_ms // _HOUR_MS * _HOUR_MS)
                    hour = hours.get(key)
                    if hour is None:
                        hours[key] = [1, value, value, value]
                    else:
                        hour[0] += 1
                        hour[1], hour[2], hour[3] = min(hour[1], value), max(hour[2], value), hour[3] + value
                if hours:
                    self._upsert(db, _HOURLY, [(*key, *hour) for key, hour in sorted(hours.items())])
            expired += len(gone)
            if len(gone) < _EXPIRE_CHUNK_ROWS:
                return expired

    # -- reads -----------------------------------------------------------------------

    def latest(self, sensors: Sequence[str] = ()) -> list[LatestValue]:
        sql = "SELECT sensor, gateway, kind, time_ms, quality, value, values_json FROM window_latest"
        with self.engine.connect() as db:
            if not sensors:
                rows = db.exec_driver_sql(sql).all()
            else:
                names = sorted(set(sensors))
                rows = [row for start in range(0, len(names), _NAMES_PER_SELECT)
                        for row in db.exec_driver_sql(
                            f"{sql} WHERE sensor IN ({', '.join([self._m] * len(names[start:start + _NAMES_PER_SELECT]))})",
                            tuple(names[start:start + _NAMES_PER_SELECT]))]
        return [LatestValue(*row[:6], orjson.loads(row[6])) for row in sorted(rows, key=lambda r: r[0])]

    def tags(self, reader: str) -> list[TagPresence]:
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(
                "SELECT t.epc, t.last_seen_ms, r.last_round_ms FROM window_tag_presence t "
                f"JOIN window_rfid_rounds r ON r.reader = t.reader WHERE t.reader = {self._m}", (reader,)).all()
        return [TagPresence(reader, epc, seen_ms, seen_ms >= round_ms) for epc, seen_ms, round_ms in sorted(map(tuple, rows))]

    def query(self, query: ReadingQuery) -> list[StoredReading]:
        sql, args = reading_query_sql(query, "window_readings", self._m)
        with self.engine.connect() as db:
            return stored_readings(db.exec_driver_sql(sql, args).all())

    def count(self) -> int:
        with self.engine.connect() as db:
            return int(db.exec_driver_sql("SELECT count(*) FROM window_readings").scalar_one())

    def hourly(self, sensor: str) -> list[tuple[str, int, int, float, float, float]]:
        """(kind, hour_ms, count, min, max, sum) of the sensor's folded hours, oldest first."""
        with self.engine.connect() as db:
            rows = db.exec_driver_sql(
                "SELECT kind, hour_ms, count, min_value, max_value, sum_value FROM window_hourly "
                f"WHERE sensor = {self._m} ORDER BY hour_ms, kind", (sensor,)).all()
        return [tuple(row) for row in rows]
