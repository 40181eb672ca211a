"""The ingest ledger in SQLite: stored message keys, seq progress, gateway state, quarantine.

A seq of an epoch is settled when it is stored (`messages`), refused for good (`refused`:
quarantined after the gateway's signature checked out) or announced dropped by the
gateway and never received (`dropped`). `epochs.contiguous_seq` is the highest seq up to
which every seq is settled; the rest up to `max_seq` are the unknown gaps (missing_seqs).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from backend.adapters.message_keys import key_lookups
from backend.adapters.sqlite_db import connect, transaction
from backend.ports.ingest import (
    AcceptedMessage,
    GatewayStatus,
    MessageKey,
    QuarantinedMessage,
    Recorded,
    UntrustedMessage,
)
from edge import protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    readings INTEGER NOT NULL, sent_at_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS epochs (
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL,
    contiguous_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL, received INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, epoch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refused (
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL,
    refused_at_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dropped (
    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, announced_at_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_state (
    gateway TEXT PRIMARY KEY, online INTEGER NOT NULL, epoch INTEGER NOT NULL,
    info_json TEXT NOT NULL, changed_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received_at_ms INTEGER NOT NULL, topic TEXT NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, reading_count INTEGER NOT NULL, payload BLOB NOT NULL);
"""


class SqliteIngestLedger:
    """Safe to share between ingest processes on one host (one file, WAL, BEGIN IMMEDIATE):
    the messages table's primary key decides which process recorded a message first."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._db = connect(path, _SCHEMA)
        self._clock = clock
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def already_stored(self, keys: Sequence[MessageKey]) -> set[MessageKey]:
        with self._lock:
            return self._existing(keys)

    def _existing(self, keys: Sequence[MessageKey]) -> set[MessageKey]:
        """Which of `keys` are recorded, found by key (message_keys.py)."""
        return {row for sql, parameters in key_lookups("messages", keys) for row in self._db.execute(sql, parameters)}

    def record(self, stored: Sequence[AcceptedMessage], quarantined: Sequence[QuarantinedMessage],
               refused: Sequence[tuple[MessageKey, str]] = (),
               dropped: Sequence[MessageKey] = ()) -> Recorded:
        with self._lock, transaction(self._db):
            # The write lock is ours until COMMIT: no other process can slip a key in between.
            existing = self._existing([m.key for m in stored] + [k for k, _ in refused] + list(dropped))
            new = [m for m in stored if m.key not in existing]
            recorded_at_ms = int(self._clock() * 1000)
            self._db.executemany(
                "INSERT INTO messages VALUES (?,?,?,?,?,?,?)",
                [(*m.key, len(m.envelope.readings), m.envelope.sent_at_ms, m.received_at_ms, recorded_at_ms)
                 for m in new])
            for table in ("refused", "dropped"):  # it arrived after all
                self._db.executemany(f"DELETE FROM {table} WHERE gateway=? AND epoch=? AND seq=?",
                                     [m.key for m in new])
            self._db.executemany(
                "INSERT INTO quarantine (received_at_ms, topic, reason, detail, reading_count, payload) "
                "VALUES (?,?,?,?,?,?)",
                [(q.received_at_ms, q.topic, q.reason, q.detail, q.reading_count, q.payload)
                 for q in quarantined])
            refused = [(key, reason) for key, reason in refused if key not in existing]
            dropped = [key for key in dropped if key not in existing]
            self._db.executemany("INSERT OR IGNORE INTO refused VALUES (?,?,?,?,?)",
                                 [(*key, reason, recorded_at_ms) for key, reason in refused])
            self._db.executemany("INSERT OR IGNORE INTO dropped VALUES (?,?,?,?)",
                                 [(*key, recorded_at_ms) for key in dropped])
            acks = self._advance(new, [key for key, _ in refused] + dropped)
        return Recorded(frozenset(m.key for m in new), acks)

    def contiguous_seqs(self, epoch_keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        with self._lock:
            return {key: row[0] for key in epoch_keys for row in self._db.execute(
                "SELECT contiguous_seq FROM epochs WHERE gateway=? AND epoch=?", key)}

    def _advance(self, new: Sequence[AcceptedMessage],
                 settled: Sequence[MessageKey]) -> dict[tuple[str, int], int]:
        """Move each touched epoch's progress past the newly settled seqs (in the
        transaction that recorded them); returns their contiguous seqs."""
        touched: dict[tuple[str, int], list] = {}  # -> [last seen, fresh seqs, newly stored]
        for m in new:
            entry = touched.setdefault(m.key[:2], [0, set(), 0])
            entry[0], entry[2] = max(entry[0], m.received_at_ms), entry[2] + 1
            entry[1].add(m.key[2])
        for gateway, epoch, seq in settled:
            touched.setdefault((gateway, epoch), [0, set(), 0])[1].add(seq)
        progress = self._progress(list(touched))
        rows = []
        for epoch_key, (seen_ms, fresh, stored) in touched.items():
            contiguous, max_seq, received, last_seen_ms = progress.get(epoch_key, (0, 0, 0, 0))
            if max_seq > contiguous:  # a gap was pending: count from the tables
                contiguous = self._recount(epoch_key, contiguous)
            else:  # nothing above `contiguous` was settled before: only the fresh can extend it
                while contiguous + 1 in fresh:
                    contiguous += 1
            rows.append((*epoch_key, contiguous, max(max_seq, contiguous, *fresh), received + stored,
                         max(seen_ms, last_seen_ms)))
        self._db.executemany("INSERT OR REPLACE INTO epochs VALUES (?,?,?,?,?,?)", rows)
        return {(row[0], row[1]): row[2] for row in rows}

    def _progress(self, epoch_keys: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int, int, int]]:
        progress = {}
        for start in range(0, len(epoch_keys), 400):  # SQLite caps bound parameters
            chunk = epoch_keys[start:start + 400]
            # `gateway = ? AND epoch = ?` terms: the primary key answers each (a row-value IN
            # list is a scan of the table)
            for gateway, epoch, *rest in self._db.execute(
                    "SELECT gateway, epoch, contiguous_seq, max_seq, received, last_seen_ms FROM epochs "
                    f"WHERE {' OR '.join(['(gateway = ? AND epoch = ?)'] * len(chunk))}",
                    [part for key in chunk for part in key]):
                progress[(gateway, epoch)] = tuple(rest)
        return progress

    def _recount(self, epoch_key: tuple[str, int], contiguous: int) -> int:
        settled = self._db.execute(
            "SELECT seq FROM messages WHERE gateway=?1 AND epoch=?2 AND seq > ?3 "
            "UNION SELECT seq FROM refused WHERE gateway=?1 AND epoch=?2 AND seq > ?3 "
            "UNION SELECT seq FROM dropped WHERE gateway=?1 AND epoch=?2 AND seq > ?3 ORDER BY seq",
            (*epoch_key, contiguous))
        for (seq,) in settled:
            if seq != contiguous + 1:
                break
            contiguous = seq
        return contiguous

    def set_gateway_state(self, gateway: str, online: bool, epoch: int,
                          info: Mapping[str, Any], now_ms: int) -> None:
        with self._lock, transaction(self._db):
            # A death message carries no info: keep what the last birth said.
            self._db.execute(
                "INSERT INTO gateway_state VALUES (?,?,?,?,?) ON CONFLICT (gateway) DO UPDATE SET "
                "online=excluded.online, epoch=excluded.epoch, changed_at_ms=excluded.changed_at_ms, "
                "info_json=CASE WHEN excluded.online THEN excluded.info_json ELSE info_json END",
                (gateway, int(online), epoch, json.dumps(dict(info)), now_ms))

    def gateways(self) -> list[GatewayStatus]:
        with self._lock:
            progress = self._db.execute(
                "SELECT gateway, epoch, contiguous_seq, max_seq, received, last_seen_ms FROM epochs "
                "ORDER BY gateway, epoch").fetchall()
            states = {row[0]: row[1:] for row in self._db.execute(
                "SELECT gateway, online, epoch, info_json, changed_at_ms FROM gateway_state")}
            refused, dropped = ({gateway: n for gateway, n in self._db.execute(
                f"SELECT gateway, count(*) FROM {table} GROUP BY gateway")} for table in ("refused", "dropped"))
        latest: dict[str, tuple] = {}
        unstored: dict[str, int] = {}
        for gateway, epoch, contiguous, max_seq, received, seen_ms in progress:
            latest[gateway] = (epoch, max_seq, contiguous, seen_ms)  # rows ordered by epoch
            unstored[gateway] = unstored.get(gateway, 0) + max_seq - received
        statuses = []
        for gateway in sorted(latest.keys() | states.keys()):
            epoch, max_seq, contiguous, seen_ms = latest.get(gateway, (None, None, None, None))
            online, state_epoch, info_json, changed_ms = states.get(gateway, (0, None, "{}", None))
            if state_epoch is not None and (epoch is None or state_epoch > epoch):
                epoch, max_seq, contiguous = state_epoch, None, None  # rebooted, no data yet
            known = refused.get(gateway, 0) + dropped.get(gateway, 0)
            statuses.append(GatewayStatus(
                gateway=gateway, online=bool(online), boot_epoch=epoch, last_seq=max_seq,
                acked_seq=contiguous, last_seen_ms=max(filter(None, (seen_ms, changed_ms)), default=None),
                missing_seqs=unstored.get(gateway, 0) - known, info=json.loads(info_json),
                dropped_seqs=dropped.get(gateway, 0), refused_seqs=refused.get(gateway, 0)))
        return statuses

    def forged_since(self, after_id: int) -> list[UntrustedMessage]:
        """Messages quarantined as tampering, with the gateway in their topic."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, received_at_ms, reason, payload FROM quarantine WHERE id > ? "
                "AND reason IN ('bad_signature', 'foreign_sensor') ORDER BY id", (after_id,)).fetchall()
        forged = []
        for row_id, topic, received_at_ms, reason, payload in rows:
            try:
                gateway, _ = protocol.parse_topic(topic)
            except protocol.DecodeError:
                continue
            forged.append(UntrustedMessage(row_id, gateway, received_at_ms, reason, payload))
        return forged

    def last_quarantine_id(self) -> int:
        with self._lock:
            return self._db.execute("SELECT coalesce(max(id), 0) FROM quarantine").fetchone()[0]

    def quarantined(self, limit: int) -> list[QuarantinedMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT topic, payload, reason, detail, received_at_ms, reading_count FROM quarantine "
                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [QuarantinedMessage(*row) for row in rows]
