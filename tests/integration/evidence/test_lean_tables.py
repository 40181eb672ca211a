"""The log's tables as migration 0023 lays them out (fewer b-trees per ingested message): a log
written before it reads back the same after it and after going back, and on SQLite every
lookup the log makes is a search of a key, never a scan of a table that grows with the log."""
from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from query_plans import assert_no_scans, scans_of, selects_run

from backend.adapters.db.engine import alembic_config, make_engine
from backend.adapters.db.evidence_repo import COMPRESS_FROM_BYTES, SqlEnvelopeArchive, SqlEvidenceLog
from backend.domain import evidence, tlog
from backend.domain.evidence import Entry
from backend.ports.evidence import ArchivedEnvelope

T0_MS = 1_767_000_000_000
LOG_TABLES = ("log_entries", "log_nodes", "log_subjects", "evidence_envelopes")


def _envelope(gateway: str, seq: int, size: int) -> ArchivedEnvelope:
    payload = (b'{"gateway":"%s","seq":%d,"pad":"' % (gateway.encode(), seq)) + b"r" * size + b'"}'
    leaf = evidence.batch_leaf(gateway, 1, seq, signed_sha256="cd" * 32, readings=1, key_id=None,
                               received_s=T0_MS // 1000 + seq)
    at_ms = T0_MS + seq * 1000
    return ArchivedEnvelope(gateway, 1, seq, at_ms, at_ms, at_ms, payload, leaf)


def _entries(n: int) -> list[Entry]:
    at_s = T0_MS // 1000 + n
    return [Entry("alert.opened", at_s, {"alert": f"a-{n}", "loan": "loan-1"}, {"type": "ltv_warning", "severity": "warning"}),
            Entry("fx_rate.used", at_s, {}, {"base": "USD", "quote": "CNY", "rate": Decimal("7.1") + n,
                                             "source": "bench", "observed_at_s": at_s})]


def _write(log: SqlEvidenceLog, archive: SqlEnvelopeArchive, start: int, count: int) -> None:
    for n in range(start, start + count):
        log.append(_entries(n))
        assert archive.keep([_envelope("gw-a", n, COMPRESS_FROM_BYTES * 6 if n % 2 else 10),
                             _envelope("gw-b", n, 10)]) == 2


def _btrees(engine) -> dict[str, int]:
    """SQLite: the b-trees each table is written to (itself, unless WITHOUT ROWID's key is it, and its indexes)."""
    with engine.connect() as db:
        return {table: db.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE tbl_name = ?", (table,)).scalar()
                for table in LOG_TABLES}


def _state(log: SqlEvidenceLog, archive: SqlEnvelopeArchive) -> tuple:
    size = log.size()
    leaves = [entry.leaf for entry in log.leaves(list(range(size)))]
    assert tlog.root_hash(log, size) == tlog.MemoryTree.of_leaves(leaves).root()  # nodes agree with the leaves
    window = [(e.log_index, e.gateway, e.payload) for e in archive.window(["gw-a", "gw-b"], T0_MS, T0_MS + 10**9)]
    about = [e.index for e in log.about([("alert", "a-3"), ("loan", "loan-1"), ("loan", "none")], 0, 2**40)]
    fx = [e.index for e in log.of_kinds(["fx_rate.used"], 0, 2**40)]
    return size, tlog.root_hash(log, size), leaves, window, about, fx


def test_a_log_written_before_migration_0023_reads_the_same_after_it_and_after_going_back(tmp_path, empty_database_url):
    engine = make_engine(empty_database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0020")
    log, archive = SqlEvidenceLog(engine), SqlEnvelopeArchive(engine)
    try:
        _write(log, archive, 1, 12)
        before = _state(log, archive)
        assert before[0] == 12 * 4 and len(before[3]) == 24 and len(before[4]) == 12 and len(before[5]) == 12
        if engine.dialect.name == "sqlite":
            assert _btrees(engine) == {"log_entries": 3, "log_nodes": 2, "log_subjects": 2, "evidence_envelopes": 4}

        command.upgrade(config, "head")
        assert _state(log, archive) == before
        if engine.dialect.name == "sqlite":
            assert _btrees(engine) == {"log_entries": 2, "log_nodes": 1, "log_subjects": 1, "evidence_envelopes": 3}
        assert archive.keep([_envelope("gw-a", 3, 10), _envelope("gw-b", 40, 10)]) == 1  # a message is kept once
        _write(log, archive, 13, 3)
        grown = _state(log, archive)
        tlog.verify_consistency(before[0], grown[0], before[1], grown[1],
                                tlog.consistency_proof(log, before[0], grown[0]))

        command.downgrade(config, "0020")
        assert _state(log, archive) == grown
        if engine.dialect.name == "sqlite":
            assert _btrees(engine)["evidence_envelopes"] == 4
        assert archive.keep([_envelope("gw-a", 3, 10)]) == 0
    finally:
        engine.dispose()


_SCAN = scans_of(LOG_TABLES)


def test_on_sqlite_the_log_finds_its_rows_by_key_never_by_scanning_a_table(tmp_path):
    """An append reads the frontier of the tree; proofs read nodes; packs read entries by subject
    and kind, and the archive looks for duplicates: each a handful of rows out of millions."""
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    command.upgrade(alembic_config(engine), "head")
    log, archive = SqlEvidenceLog(engine), SqlEnvelopeArchive(engine)
    try:
        with selects_run(engine) as statements:
            _write(log, archive, 1, 7)                                  # appends at many frontier shapes
            archive.keep([_envelope("gw-a", 2, 10), _envelope("gw-a", 99, 10)])  # a duplicate: the lookup path
            size = log.size()
            tlog.inclusion_proof(log, 5, size)
            log.nodes([(0, 3), (0, 4), (1, 2), (2, 0), (3, 1)])
            log.about([("alert", "a-3"), ("loan", "loan-1"), ("lot", "x")], 0, 2**40, ["alert.opened"])
            log.of_kinds(["fx_rate.used", "gateway_key.registered"], 0, 2**40)
            log.leaves([1, 2, 30])
        assert len(statements) > 10
        assert_no_scans(engine, statements, _SCAN)
        with pytest.raises(ValueError, match="envelope archive"):
            log.of_kinds(["batch.ingested"], 0, 2**40)
    finally:
        engine.dispose()
