"""The envelope archive on a real database: a message kept twice (a resend, a second ingest
process, twice in one batch) is archived and logged once, and every envelope comes back from
a pack's window byte for byte, compressed in storage or not. Ingest acknowledges a message
only once its archive commit (on the archive's own thread) is durable."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from backend.adapters.db.evidence_repo import COMPRESS_FROM_BYTES, SqlEnvelopeArchive, SqlEvidenceLog
from backend.domain import evidence
from backend.ports.evidence import ArchivedEnvelope

from .world import make_world

T0_MS = 1_767_000_000_000


def _envelope(seq: int, size: int) -> ArchivedEnvelope:
    payload = (b'{"gateway":"gw-qingdao","seq":%d,"pad":"' % seq) + b"r" * size + b'"}'
    leaf = evidence.batch_leaf("gw-qingdao", 1, seq, signed_sha256="ab" * 32, readings=1, key_id=None,
                               received_s=T0_MS // 1000 + seq)
    return ArchivedEnvelope("gw-qingdao", 1, seq, T0_MS + seq * 1000, T0_MS + seq * 1000, T0_MS + seq * 1000,
                            payload, leaf)


def test_a_message_kept_twice_is_archived_and_logged_once_and_read_back_as_received(tmp_path, database_url):
    world = make_world(tmp_path, database_url)
    try:
        archive, log = SqlEnvelopeArchive(world.engine), SqlEvidenceLog(world.engine)
        first = [_envelope(seq, COMPRESS_FROM_BYTES * 6 if seq % 2 else 10) for seq in range(1, 5)]
        size = log.size()
        assert archive.keep(first) == 4
        again = [first[1], _envelope(5, 10), first[3], _envelope(6, COMPRESS_FROM_BYTES * 6), _envelope(6, 20)]
        assert archive.keep(again) == 2                      # 5 and the first copy of 6
        assert log.size() == size + 6
        read = {e.payload: e for e in archive.window(["gw-qingdao"], T0_MS, T0_MS + 10_000)}
        assert set(read) == {e.payload for e in first + [again[1], again[3]]}
        assert [e.log_index for e in read.values()] == sorted(e.log_index for e in read.values())
        with world.engine.connect() as db:
            compressed = db.exec_driver_sql("SELECT count(*) FROM evidence_envelopes WHERE compressed").scalar()
        assert compressed == 3
    finally:
        world.context.close()


def _archived_seqs(world, gateway: str) -> set[int]:
    """What another connection sees committed (what a crash now would leave)."""
    with world.engine.connect() as db:
        return set(db.execute(text("SELECT seq FROM evidence_envelopes WHERE gateway = :gateway"),
                              {"gateway": gateway}).scalars())


def test_ingest_records_a_message_only_once_its_archive_commit_is_durable(world, monkeypatch):
    """The archive commits on its own thread while the readings are written; the ledger (what
    acknowledges) records the messages only after that commit, and a commit that fails leaves
    them unacknowledged: the resend is archived and logged once."""
    from backend.adapters.db import evidence_repo

    commit, record = evidence_repo._commit, world.ingest.ledger.record
    seen_at_record: list[set[int]] = []

    def slow_commit(db, transaction) -> None:
        time.sleep(0.3)  # the readings' write is long done
        commit(db, transaction)

    def record_checking(candidates, *args, **kwargs):
        seen_at_record.append(_archived_seqs(world, "gw-ningbo"))
        return record(candidates, *args, **kwargs)

    monkeypatch.setattr(evidence_repo, "_commit", slow_commit)
    monkeypatch.setattr(world.ingest.ledger, "record", record_checking)
    world.report("gw-ningbo", 150.0)
    assert seen_at_record == [{1}]

    def failing_commit(db, transaction) -> None:
        db.close()  # rolled back
        raise OSError("disk full")

    size = SqlEvidenceLog(world.engine).size()
    monkeypatch.setattr(evidence_repo, "_commit", failing_commit)
    with pytest.raises(OSError, match="disk full"):
        world.report("gw-ningbo", 151.0)
    assert seen_at_record == [{1}]                           # the ledger never heard of seq 2: no ack
    assert _archived_seqs(world, "gw-ningbo") == {1} and SqlEvidenceLog(world.engine).size() == size

    monkeypatch.setattr(evidence_repo, "_commit", commit)
    world.seqs["gw-ningbo"] = 1                              # the gateway sends seq 2 again
    world.report("gw-ningbo", 151.0)
    assert _archived_seqs(world, "gw-ningbo") == {1, 2} and SqlEvidenceLog(world.engine).size() == size + 1
    assert world.context.ledger.already_stored([("gw-ningbo", 1, 2)]) == {("gw-ningbo", 1, 2)}
