"""The evidence log and the envelope archive in the relational database (ports:
backend.ports.evidence LogStore and EnvelopeArchive).

Appends are serialized by the one `log_head` row: every appender updates it first, which
takes PostgreSQL's row lock or SQLite's write lock until its transaction ends, then reads
the size, writes the leaves, the perfect-subtree nodes they complete and the new size.
`append_entries` does that inside a caller's transaction (an alert and its entry commit
together); `SqlEvidenceLog.append` in a transaction of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import lz4.block
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.domain.evidence import Entry
from backend.domain.tlog import ProofError, leaf_hash, node_hash
from backend.ports.evidence import (
    ArchivedEnvelope,
    LoggedEntry,
    StoredCheckpoint,
    StoredCosignature,
    WindowEnvelope,
)

E, S, N = t.log_entries, t.log_subjects, t.log_nodes
NOT_INGESTED = t.LOG_ENTRIES_KIND_INDEX_WHERE
_CHUNK = 400  # keys per IN list (SQLite caps bound parameters)


def _mark(db: Connection) -> str:
    return "?" if db.dialect.paramstyle == "qmark" else "%s"


def _lock(db: Connection) -> int:
    """Take the log's append lock for `db`'s transaction; returns the current size. Through the
    driver: ingest appends once per commit, and SQLAlchemy's statement handling cost more than
    the statements."""
    db.exec_driver_sql("UPDATE log_head SET size = size WHERE id = 1")
    return db.exec_driver_sql("SELECT size FROM log_head WHERE id = 1").scalar_one()


def _frontier(db: Connection, size: int) -> dict[tuple[int, int], bytes]:
    """The right-edge perfect subtrees of a tree of `size`: the only nodes an append reads.
    One `level = ? AND idx = ?` term per node (a row-value IN list is a scan of the whole
    table in SQLite: ~120 ms an append at a million entries)."""
    keys = [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]
    if not keys:
        return {}
    mark = _mark(db)
    terms = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(keys))
    rows = db.exec_driver_sql(f"SELECT level, idx, hash FROM log_nodes WHERE {terms}",
                              tuple(part for key in keys for part in key))
    return {(level, idx): bytes(node) for level, idx, node in rows}


def append_entries(db: Connection, entries: Sequence[Entry]) -> list[int]:
    """Append `entries` in `db`'s transaction; returns their indices."""
    return _append(db, [(e.kind, e.at_s, e.leaf(), e.subjects) for e in entries])


def _append(db: Connection, leaves: Sequence[tuple[str, int, bytes, Mapping[str, str] | None]]) -> list[int]:
    """(kind, at_s, leaf, subjects to index or None) in order; inserted through the driver
    (ingest appends a leaf per message: SQLAlchemy's per-row work would be most of the cost)."""
    if not leaves:
        return []
    size = _lock(db)
    nodes = _frontier(db, size)
    rows, new_nodes, subjects = [], [], []
    for index, (kind, at_s, leaf, named) in enumerate(leaves, start=size):
        rows.append((index, kind, at_s, leaf))
        if named:
            subjects += [(name, value, index) for name, value in named.items()]
        level, position, node = 0, index, leaf_hash(leaf)
        while True:
            nodes[(level, position)] = node
            new_nodes.append((level, position, node))
            if position % 2 == 0:
                break
            node = node_hash(nodes[(level, position - 1)], node)
            level, position = level + 1, position // 2
    _insert(db, "log_entries (idx, kind, at_s, leaf)", rows)
    _insert(db, "log_nodes (level, idx, hash)", new_nodes)
    _insert(db, "log_subjects (name, value, idx)", subjects)
    db.exec_driver_sql(f"UPDATE log_head SET size = {_mark(db)} WHERE id = 1", (size + len(leaves),))
    return list(range(size, size + len(leaves)))


def _insert(db: Connection, into: str, rows: list[tuple]) -> None:
    if rows:
        mark = _mark(db)
        db.exec_driver_sql(f"INSERT INTO {into} VALUES ({', '.join([mark] * len(rows[0]))})", rows)


def _logged(rows) -> list[LoggedEntry]:
    return [LoggedEntry(row.idx, row.leaf) for row in rows]


class SqlEvidenceLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, entries: Sequence[Entry]) -> list[int]:
        with self.engine.begin() as db:
            return append_entries(db, entries)

    def size(self) -> int:
        with self.engine.connect() as db:
            return db.execute(select(t.log_head.c.size).where(t.log_head.c.id == 1)).scalar_one()

    def subtree_hash(self, level: int, index: int) -> bytes:
        with self.engine.connect() as db:
            found = db.execute(select(N.c.hash).where(and_(N.c.level == level, N.c.idx == index))).scalar()
        if found is None:
            raise ProofError(f"the database holds no node at level {level}, index {index}")
        return found

    def nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Per level, `level = ? AND idx IN (...)`: the primary key answers it (a row-value IN
        list is a scan of the table in SQLite)."""
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        found: dict[tuple[int, int], bytes] = {}
        with self.engine.connect() as db:
            for level, indices in sorted(by_level.items()):
                for start in range(0, len(indices), _CHUNK):
                    rows = db.execute(select(N.c.level, N.c.idx, N.c.hash).where(
                        and_(N.c.level == level, N.c.idx.in_(indices[start:start + _CHUNK]))))
                    found.update({(row.level, row.idx): row.hash for row in rows})
        return found

    def leaves(self, indices: Sequence[int]) -> list[LoggedEntry]:
        found: list[LoggedEntry] = []
        with self.engine.connect() as db:
            for start in range(0, len(indices), _CHUNK):
                chunk = list(indices[start:start + _CHUNK])
                found += _logged(db.execute(select(E.c.idx, E.c.leaf).where(E.c.idx.in_(chunk))))
        return sorted(found, key=lambda entry: entry.index)

    def about(self, subjects: Sequence[tuple[str, str]], from_s: int, to_s: int,
              kinds: Sequence[str] | None = None) -> list[LoggedEntry]:
        if not subjects:
            return []
        by_name: dict[str, list[str]] = {}
        for name, value in subjects:
            by_name.setdefault(name, []).append(value)
        # name = ? AND value IN (...) per name: the primary key answers each (a row-value IN
        # list is a scan of the table in SQLite)
        named = select(S.c.idx).where(or_(*(and_(S.c.name == name, S.c.value.in_(values))
                                             for name, values in sorted(by_name.items()))))
        query = select(E.c.idx, E.c.leaf).where(and_(E.c.idx.in_(named), E.c.at_s >= from_s, E.c.at_s <= to_s))
        if kinds is not None:
            query = query.where(E.c.kind.in_(list(kinds)))
        with self.engine.connect() as db:
            return _logged(db.execute(query.order_by(E.c.idx)))

    def of_kinds(self, kinds: Sequence[str], from_s: int, to_s: int) -> list[LoggedEntry]:
        """Never batch.ingested (its envelope is archived: `EnvelopeArchive.window`): the kind
        index leaves those out, and is used when the query names its condition as written."""
        if "batch.ingested" in kinds:
            raise ValueError("batch.ingested entries are read through the envelope archive")
        query = select(E.c.idx, E.c.leaf).where(and_(E.c.kind.in_(list(kinds)), text(NOT_INGESTED),
                                                     E.c.at_s >= from_s, E.c.at_s <= to_s)).order_by(E.c.idx)
        with self.engine.connect() as db:
            return _logged(db.execute(query))

    # -- checkpoints and cosignatures ------------------------------------------------------
    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(insert(t.log_checkpoints).values(
                    size=checkpoint.size, root_hash=checkpoint.root_hash, note=checkpoint.note,
                    signed_at_s=checkpoint.signed_at_s))
        except IntegrityError:  # another process signed this size first
            return False
        return True

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoint(select(t.log_checkpoints).order_by(t.log_checkpoints.c.size.desc()).limit(1))

    def checkpoint(self, size: int) -> StoredCheckpoint | None:
        return self._checkpoint(select(t.log_checkpoints).where(t.log_checkpoints.c.size == size))

    def _checkpoint(self, query) -> StoredCheckpoint | None:
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return StoredCheckpoint(row.size, row.root_hash, row.note, row.signed_at_s) if row else None

    def checkpoints_since(self, since_s: float) -> list[StoredCheckpoint]:
        C = t.log_checkpoints
        with self.engine.connect() as db:
            rows = db.execute(select(C).where(C.c.signed_at_s >= since_s).order_by(C.c.size))
            return [StoredCheckpoint(r.size, r.root_hash, r.note, r.signed_at_s) for r in rows]

    def add_cosignature(self, cosignature: StoredCosignature) -> None:
        C = t.log_cosignatures
        with self.engine.begin() as db:
            db.execute(delete(C).where(and_(C.c.size == cosignature.size, C.c.witness == cosignature.witness)))
            db.execute(insert(C).values(size=cosignature.size, witness=cosignature.witness,
                                        lender_id=cosignature.lender, timestamp_s=cosignature.timestamp_s,
                                        line=cosignature.line, received_at_s=cosignature.received_at_s))

    def cosignatures(self, sizes: Sequence[int]) -> list[StoredCosignature]:
        C = t.log_cosignatures
        found: list[StoredCosignature] = []
        with self.engine.connect() as db:
            for start in range(0, len(sizes), _CHUNK):
                rows = db.execute(select(C).where(C.c.size.in_(list(sizes[start:start + _CHUNK])))
                                  .order_by(C.c.size, C.c.witness))
                found += [StoredCosignature(r.size, r.witness, r.lender_id, r.timestamp_s, r.line, r.received_at_s)
                          for r in rows]
        return found


V = t.evidence_envelopes
COMPRESS_FROM_BYTES = 1024  # smaller envelopes (one a second of a few readings) gain little and are kept as they are


def _commit(db: Connection, transaction) -> None:
    try:
        transaction.commit()
    finally:
        db.close()


def _stored(payload: bytes) -> tuple[bytes, bool]:
    """(bytes to store, compressed?): LZ4's block format with its size prefix shrinks a
    50-reading envelope to a seventh in ~3 µs (zlib level 1: a tenth in ~22 µs, more than
    the SQLite writes it saves)."""
    if len(payload) < COMPRESS_FROM_BYTES:
        return payload, False
    return lz4.block.compress(payload, store_size=True), True


_RANGES = 100  # seq ranges per query (SQLite caps compound SELECTs at 500)


def _archived_keys(db: Connection, envelopes: Sequence[ArchivedEnvelope]) -> set[tuple[str, int, int]]:
    """Which of these messages are archived already: one seq range per (gateway, epoch), so
    each lookup is a range of the primary key (a row-value IN list is a scan of the table
    in SQLite)."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for e in envelopes:
        low, high = spans.get((e.gateway, e.epoch), (e.seq, e.seq))
        spans[(e.gateway, e.epoch)] = (min(low, e.seq), max(high, e.seq))
    mark = _mark(db)
    one = f"SELECT gateway, epoch, seq FROM evidence_envelopes WHERE gateway = {mark} AND epoch = {mark} " \
          f"AND seq BETWEEN {mark} AND {mark}"
    ranges = [(gateway, epoch, low, high) for (gateway, epoch), (low, high) in spans.items()]
    found: set[tuple[str, int, int]] = set()
    for start in range(0, len(ranges), _RANGES):
        chunk = ranges[start:start + _RANGES]
        rows = db.exec_driver_sql(" UNION ALL ".join([one] * len(chunk)), tuple(p for r in chunk for p in r))
        found.update(tuple(row) for row in rows)
    return found


class SqlEnvelopeArchive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._committer: ThreadPoolExecutor | None = None

    def keep(self, envelopes: Sequence[ArchivedEnvelope]) -> int:
        """All new, the usual case, they go in without a lookup; when one was archived before (a
        resend, a second ingest process), the insert fails, is rolled back to the savepoint and
        redone with the new ones only."""
        if not envelopes:
            return 0
        rows = [(*e[:6], *_stored(e.payload)) for e in envelopes]  # compressed outside the lock
        with self.engine.begin() as db:
            return self._write(db, envelopes, rows)

    def begin_keep(self, envelopes: Sequence[ArchivedEnvelope]) -> Callable[[], int]:
        """`keep`, written on this thread, committed on the archive's own: the commit (the WAL's
        write and fsync, in the driver with the GIL released) runs while the caller goes on.
        The returned function waits until it is durable (or raises why not) and returns how
        many were new; call it before anything relies on the envelopes being kept."""
        if not envelopes:
            return lambda: 0
        rows = [(*e[:6], *_stored(e.payload)) for e in envelopes]
        db = self.engine.connect()
        try:
            transaction = db.begin()
            new = self._write(db, envelopes, rows)
        except BaseException:
            db.close()  # rolled back
            raise
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="evidence-commit")
        committed = self._committer.submit(_commit, db, transaction)
        return lambda: (committed.result(), new)[1]

    def _write(self, db: Connection, envelopes: Sequence[ArchivedEnvelope], rows: Sequence[tuple]) -> int:
        _lock(db)  # before looking: no other process can archive the same message meanwhile
        try:
            with db.begin_nested():
                self._store(db, envelopes, rows)
            return len(envelopes)
        except IntegrityError:
            new = set(self._not_archived(db, envelopes))
            kept = [(e, row) for e, row in zip(envelopes, rows) if id(e) in new]
            self._store(db, [e for e, _ in kept], [row for _, row in kept])
        return len(new)

    @staticmethod
    def _store(db: Connection, envelopes: Sequence[ArchivedEnvelope], rows: Sequence[tuple]) -> None:
        """`rows`: each envelope's columns but its entry's index (gateway ... last_ms, payload, compressed)."""
        indices = _append(db, [("batch.ingested", e.received_at_ms // 1000, e.leaf, None) for e in envelopes])
        _insert(db, "evidence_envelopes (gateway, epoch, seq, received_at_ms, first_ms, last_ms, payload, compressed, "
                    "log_idx)", [(*row, index) for row, index in zip(rows, indices)])

    @staticmethod
    def _not_archived(db: Connection, envelopes: Sequence[ArchivedEnvelope]) -> list[int]:
        """The id() of each envelope not archived yet (the first of two copies of a message)."""
        archived = _archived_keys(db, envelopes)
        new = []
        for envelope in envelopes:
            key = (envelope.gateway, envelope.epoch, envelope.seq)
            if key not in archived:
                archived.add(key)
                new.append(id(envelope))
        return new

    def window(self, gateways: Sequence[str], from_ms: int, to_ms: int) -> Iterator[WindowEnvelope]:
        """Through the driver's own cursor (SQLAlchemy's rows cost more than the read itself
        over millions of envelopes); a named, server-side cursor on PostgreSQL."""
        query = (select(V.c.log_idx, V.c.gateway, V.c.received_at_ms // 1000, V.c.payload, V.c.compressed)
                 .where(and_(V.c.gateway.in_(list(gateways)), V.c.last_ms >= int(from_ms),
                             V.c.first_ms <= int(to_ms)))
                 .order_by(V.c.log_idx))
        sql = str(query.compile(self.engine, compile_kwargs={"literal_binds": True}))  # ids and integers only
        with self.engine.connect() as db:
            driver = db.connection.dbapi_connection
            cursor = driver.cursor(name="pw_window") if self.engine.dialect.name == "postgresql" else driver.cursor()
            try:
                cursor.execute(sql)
                while rows := cursor.fetchmany(5000):
                    for index, gateway, at_s, payload, compressed in rows:
                        yield WindowEnvelope(index, gateway, at_s,
                                             lz4.block.decompress(payload) if compressed else bytes(payload))
            finally:
                cursor.close()

    def hold(self, gateways: Sequence[str], until_ms: int) -> None:
        H = t.evidence_holds
        with self.engine.begin() as db:  # a write first: SQLite's write lock before anything is read
            db.execute(update(H).where(and_(H.c.gateway.in_(list(gateways)), H.c.until_ms < until_ms))
                       .values(until_ms=until_ms))
            held = set(db.execute(select(H.c.gateway).where(H.c.gateway.in_(list(gateways)))).scalars())
            missing = [{"gateway": gateway, "until_ms": until_ms} for gateway in gateways if gateway not in held]
            if missing:
                db.execute(insert(H), missing)

    def expire(self, now_ms: int, retention_ms: int) -> int:
        H = t.evidence_holds
        held = select(H.c.gateway).where(H.c.until_ms >= now_ms)
        with self.engine.begin() as db:
            done = db.execute(delete(V).where(and_(V.c.received_at_ms < now_ms - retention_ms,
                                                   V.c.gateway.not_in(held))))
        return done.rowcount

    def count(self) -> int:
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(V)).scalar_one()
