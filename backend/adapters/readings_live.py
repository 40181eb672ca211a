"""The live state a batch of stored messages moves, the same for every readings window."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from backend.ports.ingest import ReadingQuery, StoredReading


def live_state(batch: Sequence[tuple[Any, list, list, int]]
               ) -> tuple[dict[str, tuple], dict[str, int], dict[tuple[str, str], int]]:
    """`batch`: (message, its rows, its good RFID readings, its oldest device time). Returns the
    row of each sensor's newest live reading, each reader's newest round (ms), and when each
    (reader, EPC) was last seen (ms). Store-and-forward history never moves them."""
    newest: dict[str, tuple] = {}
    rounds: dict[str, int] = {}
    tags_seen: dict[tuple[str, str], int] = {}
    get = newest.get
    for m, rows, rfid, _ in batch:
        live_after_ms = m.live_after_ms
        for row in rows:
            time_ms = row[6]
            if time_ms < live_after_ms:
                continue
            known = get(row[4])
            if known is None or time_ms >= known[6]:
                newest[row[4]] = row
        for sensor, time_ms, values in rfid:
            if time_ms < live_after_ms:
                continue
            rounds[sensor] = max(rounds.get(sensor, 0), time_ms)
            for tag in values.get("tags", ()):
                key = (sensor, tag["epc"])
                tags_seen[key] = max(tags_seen.get(key, 0), time_ms)
    return newest, rounds, tags_seen


def reading_query_sql(query: ReadingQuery, table: str, marker: str) -> tuple[str, tuple]:
    """The SELECT for `query` over a readings table, with `marker` as the driver's placeholder."""
    where, args = [f"id > {marker}"], [query.after_id]
    if query.sensors:
        where.append(f"sensor IN ({', '.join([marker] * len(query.sensors))})")
        args.extend(query.sensors)
    for condition, value in (("gateway =", query.gateway), ("kind =", query.kind),
                             ("time_ms >=", query.from_ms), ("time_ms <", query.to_ms)):
        if value is not None:
            where.append(f"{condition} {marker}")
            args.append(value)
    sql = (f"SELECT id, gateway, sensor, kind, time_ms, quality, values_json, historical FROM {table} "
           f"WHERE {' AND '.join(where)} ORDER BY id LIMIT {marker}")
    return sql, (*args, query.limit)


def stored_readings(rows: Sequence) -> list[StoredReading]:
    return [StoredReading(row[0], row[1], row[2], row[3], row[4], row[5], orjson.loads(row[6]), bool(row[7]))
            for row in rows]
