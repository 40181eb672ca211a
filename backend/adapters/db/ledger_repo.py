"""The ingest ledger in the relational database (SQLite or PostgreSQL), shared by the ingest
workers of every host: the same rules as the SQLite file ledger (sqlite_ledger.py).

Once per key across hosts: messages are inserted with ON CONFLICT DO NOTHING and the keys
the insert returned are the ones this call recorded; a key another worker committed first
is not returned, so it counts as already stored. Each touched (gateway, epoch) progress row
is locked (SELECT ... FOR UPDATE, in key order so two workers never deadlock) before its
seqs are inserted: workers recording the same gateway's epoch take turns, and each sees the
other's committed seqs when it moves `contiguous_seq` on. On SQLite the first write of the
transaction takes the database's one write lock, which serialises the same way.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.adapters.db.cluster_tables import (
    ingest_dropped,
    ingest_epochs,
    ingest_gateway_state,
    ingest_messages,
    ingest_quarantine,
    ingest_refused,
)
from backend.adapters.message_keys import key_lookups
from backend.ports.ingest import (
    AcceptedMessage,
    GatewayStatus,
    MessageKey,
    QuarantinedMessage,
    Recorded,
    UntrustedMessage,
)
from edge import protocol

CHUNK = 300  # keys per IN (...) list: SQLite caps bound parameters
EpochKey = tuple[str, int]


class SqlIngestLedger:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine, self._clock = engine, clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def close(self) -> None:
        """The engine belongs to the context (it serves the registry too)."""

    def already_stored(self, keys: Sequence[MessageKey]) -> set[MessageKey]:
        with self.engine.connect() as db:
            return _existing(db, ingest_messages, keys)

    def record(self, stored: Sequence[AcceptedMessage], quarantined: Sequence[QuarantinedMessage],
               refused: Sequence[tuple[MessageKey, str]] = (),
               dropped: Sequence[MessageKey] = ()) -> Recorded:
        recorded_at_ms = int(self._clock() * 1000)
        touched = sorted({m.key[:2] for m in stored} | {k[:2] for k, _ in refused} | {k[:2] for k in dropped})
        with self.engine.begin() as db:
            progress = self._lock_epochs(db, touched)
            new_keys = self._insert_messages(db, stored, recorded_at_ms)
            new = [m for m in stored if m.key in new_keys]
            for table in (ingest_refused, ingest_dropped):  # it arrived after all
                _delete_keys(db, table, sorted(new_keys))
            if quarantined:
                db.execute(insert(ingest_quarantine), [
                    {"received_at_ms": q.received_at_ms, "topic": q.topic, "reason": q.reason, "detail": q.detail,
                     "reading_count": q.reading_count, "payload": q.payload} for q in quarantined])
            settled = [k for k, _ in refused] + list(dropped)
            already = _existing(db, ingest_messages, settled)
            refused_rows = [{**_key_row(k), "reason": reason, "refused_at_ms": recorded_at_ms}
                            for k, reason in refused if k not in already]
            dropped_rows = [{**_key_row(k), "announced_at_ms": recorded_at_ms} for k in dropped if k not in already]
            for table, rows in ((ingest_refused, refused_rows), (ingest_dropped, dropped_rows)):
                if rows:
                    db.execute(self._insert(table).on_conflict_do_nothing(), rows)
            acks = self._advance(db, progress, new, [k for k in settled if k not in already])
        return Recorded(frozenset(new_keys), acks)

    def _lock_epochs(self, db, touched: list[EpochKey]) -> dict[EpochKey, tuple[int, int, int, int]]:
        """Make sure each touched epoch has its progress row, then lock them in key order."""
        if not touched:
            return {}
        db.execute(self._insert(ingest_epochs).on_conflict_do_nothing(), [
            {"gateway": g, "epoch": e, "contiguous_seq": 0, "max_seq": 0, "received": 0, "last_seen_ms": 0}
            for g, e in touched])
        progress = {}
        c = ingest_epochs.c
        for start in range(0, len(touched), CHUNK):
            chunk = touched[start:start + CHUNK]
            if db.dialect.name == "postgresql":  # a row-value IN list: an index scan there
                terms = tuple_(c.gateway, c.epoch).in_(chunk)
            else:  # SQLite scans the table for one; `gateway = ? AND epoch = ?` terms are key searches
                terms = or_(*(and_(c.gateway == gateway, c.epoch == epoch) for gateway, epoch in chunk))
            rows = db.execute(select(ingest_epochs).where(terms).order_by(c.gateway, c.epoch).with_for_update())
            for gateway, epoch, *rest in rows:
                progress[(gateway, epoch)] = tuple(rest)
        return progress

    def _insert_messages(self, db, stored: Sequence[AcceptedMessage], recorded_at_ms: int) -> set[MessageKey]:
        """The keys this call inserted (those already there are skipped and not returned)."""
        rows = {m.key: {**_key_row(m.key), "readings": len(m.envelope.readings),
                        "sent_at_ms": m.envelope.sent_at_ms, "received_at_ms": m.received_at_ms,
                        "recorded_at_ms": recorded_at_ms} for m in stored}
        if not rows:
            return set()
        statement = self._insert(ingest_messages).on_conflict_do_nothing().returning(
            ingest_messages.c.gateway, ingest_messages.c.epoch, ingest_messages.c.seq)
        # executemany with RETURNING: SQLAlchemy batches the rows into few INSERTs ("insertmanyvalues")
        return {tuple(r) for r in db.execute(statement, list(rows.values()))}

    def _advance(self, db, progress: Mapping[EpochKey, tuple[int, int, int, int]],
                 new: Sequence[AcceptedMessage], settled: Sequence[MessageKey]) -> dict[EpochKey, int]:
        """Move each touched epoch's progress past the newly settled seqs; returns their
        contiguous seqs (the same steps as the SQLite ledger's `_advance`)."""
        touched: dict[EpochKey, list] = {}  # -> [last seen, fresh seqs, newly stored]
        for m in new:
            entry = touched.setdefault(m.key[:2], [0, set(), 0])
            entry[0], entry[2] = max(entry[0], m.received_at_ms), entry[2] + 1
            entry[1].add(m.key[2])
        for gateway, epoch, seq in settled:
            touched.setdefault((gateway, epoch), [0, set(), 0])[1].add(seq)
        acks, rows = {}, []
        for epoch_key, (seen_ms, fresh, stored) in touched.items():
            contiguous, max_seq, received, last_seen_ms = progress.get(epoch_key, (0, 0, 0, 0))
            if max_seq > contiguous:  # a gap was pending: count from the tables
                contiguous = _recount(db, epoch_key, contiguous)
            else:
                while contiguous + 1 in fresh:
                    contiguous += 1
            rows.append({"g": epoch_key[0], "e": epoch_key[1], "contiguous_seq": contiguous,
                         "max_seq": max(max_seq, contiguous, *fresh), "received": received + stored,
                         "last_seen_ms": max(seen_ms, last_seen_ms)})
            acks[epoch_key] = contiguous
        if rows:  # one statement, many parameter sets: pipelined, not a round trip per epoch
            db.execute(update(ingest_epochs).where(ingest_epochs.c.gateway == bindparam("g"),
                                                   ingest_epochs.c.epoch == bindparam("e")), rows)
        return acks

    def contiguous_seqs(self, epoch_keys: Sequence[EpochKey]) -> dict[EpochKey, int]:
        with self.engine.connect() as db:
            return {key: row[0] for key in epoch_keys for row in db.execute(
                select(ingest_epochs.c.contiguous_seq).where(
                    ingest_epochs.c.gateway == key[0], ingest_epochs.c.epoch == key[1]))}

    def set_gateway_state(self, gateway: str, online: bool, epoch: int,
                          info: Mapping[str, Any], now_ms: int) -> None:
        statement = self._insert(ingest_gateway_state).values(
            gateway=gateway, online=online, epoch=epoch, info_json=json.dumps(dict(info)), changed_at_ms=now_ms)
        excluded = statement.excluded
        # A death message carries no info: keep what the last birth said.
        info_json = excluded.info_json if online else ingest_gateway_state.c.info_json
        with self.engine.begin() as db:
            db.execute(statement.on_conflict_do_update(index_elements=["gateway"], set_={
                "online": excluded.online, "epoch": excluded.epoch, "changed_at_ms": excluded.changed_at_ms,
                "info_json": info_json}))

    def gateways(self) -> list[GatewayStatus]:
        with self.engine.connect() as db:
            progress = db.execute(select(ingest_epochs).order_by(ingest_epochs.c.gateway, ingest_epochs.c.epoch)).all()
            states = {row[0]: row[1:] for row in db.execute(select(ingest_gateway_state))}
            refused, dropped = ({gateway: n for gateway, n in db.execute(
                select(table.c.gateway, func.count()).group_by(table.c.gateway))}
                for table in (ingest_refused, ingest_dropped))
        latest: dict[str, tuple] = {}
        unstored: dict[str, int] = {}
        for gateway, epoch, contiguous, max_seq, received, seen_ms in progress:
            latest[gateway] = (epoch, max_seq, contiguous, seen_ms)  # rows ordered by epoch
            unstored[gateway] = unstored.get(gateway, 0) + max_seq - received
        statuses = []
        for gateway in sorted(latest.keys() | states.keys()):
            epoch, max_seq, contiguous, seen_ms = latest.get(gateway, (None, None, None, None))
            online, state_epoch, info_json, changed_ms = states.get(gateway, (False, None, "{}", None))
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
        q = ingest_quarantine.c
        with self.engine.connect() as db:
            rows = db.execute(select(q.id, q.topic, q.received_at_ms, q.reason, q.payload).where(
                q.id > after_id, q.reason.in_(("bad_signature", "foreign_sensor"))).order_by(q.id)).all()
        forged = []
        for row_id, topic, received_at_ms, reason, payload in rows:
            try:
                gateway, _ = protocol.parse_topic(topic)
            except protocol.DecodeError:
                continue
            forged.append(UntrustedMessage(row_id, gateway, received_at_ms, reason, bytes(payload)))
        return forged

    def last_quarantine_id(self) -> int:
        with self.engine.connect() as db:
            return db.execute(select(func.coalesce(func.max(ingest_quarantine.c.id), 0))).scalar_one()

    def quarantined(self, limit: int) -> list[QuarantinedMessage]:
        q = ingest_quarantine.c
        with self.engine.connect() as db:
            rows = db.execute(select(q.topic, q.payload, q.reason, q.detail, q.received_at_ms, q.reading_count)
                              .order_by(q.id.desc()).limit(limit)).all()
        return [QuarantinedMessage(topic, bytes(payload), *rest) for topic, payload, *rest in rows]


def _key_row(key: MessageKey) -> dict[str, Any]:
    return {"gateway": key[0], "epoch": key[1], "seq": key[2]}


def _existing(db, table, keys: Sequence[MessageKey]) -> set[MessageKey]:
    """Which of `keys` the table holds. PostgreSQL answers a row-value IN list from the primary
    key; SQLite scans the whole table for one, so there the lookup goes per (gateway, epoch)
    (message_keys.py), through the driver (SQLAlchemy compiling each new shape of it took half
    a commit). On PostgreSQL those OR terms were slower than the list (bench_sql_ledger.py)."""
    if db.dialect.name != "postgresql":
        return {tuple(row) for sql, parameters in key_lookups(table.name, keys, "?", CHUNK)
                for row in db.exec_driver_sql(sql, parameters)}
    found: set[MessageKey] = set()
    columns = tuple_(table.c.gateway, table.c.epoch, table.c.seq)
    for start in range(0, len(keys), CHUNK):
        rows = db.execute(select(table.c.gateway, table.c.epoch, table.c.seq)
                          .where(columns.in_(list(keys[start:start + CHUNK]))))
        found.update(tuple(row) for row in rows)
    return found


def _delete_keys(db, table, keys: list[MessageKey]) -> None:
    """Only in the epochs that have rows there (few: refusals and drops are rare); one
    statement, many parameter sets (pipelined): no long IN list to build and parse."""
    gateways = sorted({key[0] for key in keys})
    listed = {tuple(row) for start in range(0, len(gateways), CHUNK) for row in db.execute(
        select(table.c.gateway, table.c.epoch).distinct().where(table.c.gateway.in_(gateways[start:start + CHUNK])))}
    keys = [key for key in keys if key[:2] in listed]
    if keys:
        db.execute(delete(table).where(table.c.gateway == bindparam("g"), table.c.epoch == bindparam("e"),
                                       table.c.seq == bindparam("s")),
                   [{"g": g, "e": e, "s": s} for g, e, s in keys])


def _recount(db, epoch_key: EpochKey, contiguous: int) -> int:
    gateway, epoch = epoch_key
    settled = union(*(select(table.c.seq).where(table.c.gateway == gateway, table.c.epoch == epoch,
                                                table.c.seq > contiguous)
                      for table in (ingest_messages, ingest_refused, ingest_dropped)))
    for (seq,) in db.execute(select(settled.subquery().c.seq).order_by("seq")):
        if seq != contiguous + 1:
            break
        contiguous = seq
    return contiguous
