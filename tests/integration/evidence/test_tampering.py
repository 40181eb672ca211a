"""Whoever edits the database after the fact is caught: by `evidence verify` on a pack, or by
the consistency check a bank runs against the checkpoint it kept, with the item named."""
from __future__ import annotations

import base64

from sqlalchemy import text

from backend.domain.checkpoint import parse_checkpoint, parse_note
from backend.domain.tlog import ProofError, verify_consistency

from .world import as_, run_history


def _rows(world, sql: str, **params) -> list:
    with world.engine.connect() as db:
        return db.execute(text(sql), params).all()


def _run(world, sql: str, **params) -> None:
    with world.engine.begin() as db:
        db.execute(text(sql), params)


def _index_of(world, kind: str, alert_id: str | None = None) -> int:
    rows = _rows(world, "SELECT e.idx FROM log_entries e JOIN log_subjects s ON s.idx = e.idx "
                        "WHERE e.kind = :kind AND s.name = 'alert' AND s.value = :alert" if alert_id else
                 "SELECT idx FROM log_entries WHERE kind = :kind ORDER BY idx", kind=kind, alert=alert_id)
    return rows[0][0]


def _failures(world, kept: str | None = None) -> str:
    verdict = world.verify(world.export(), kept)
    assert not verdict.ok
    return "\n".join(verdict.failures)


def test_an_edited_envelope_is_named(world):
    run_history(world, 5)
    gateway, epoch, seq, payload = _rows(world, "SELECT gateway, epoch, seq, payload FROM evidence_envelopes "
                                                "WHERE gateway = 'gw-qingdao' AND seq = 3")[0]
    forged = bytes(payload).replace(b'"weight_kg":150.2', b'"weight_kg":950.2')
    assert forged != bytes(payload)
    _run(world, "UPDATE evidence_envelopes SET payload = :p WHERE gateway = :g AND epoch = :e AND seq = :s",
         p=forged, g=gateway, e=epoch, s=seq)
    failures = _failures(world)
    assert "envelope gw-qingdao/1/3 (entry" in failures and "signature does not verify" in failures


def test_a_deleted_alert_entry_is_named(world):
    alert_id = run_history(world, 5)
    index = _index_of(world, "alert.opened", alert_id)
    _run(world, "DELETE FROM log_subjects WHERE idx = :i", i=index)
    _run(world, "DELETE FROM log_entries WHERE idx = :i", i=index)
    assert f"alert {alert_id} (ltv_warning): the database holds it, the log has no alert.opened entry" \
        in _failures(world)


def test_two_reordered_entries_are_named(world):
    alert_id = run_history(world, 5)
    first, second = _index_of(world, "price_mark.used"), _index_of(world, "alert.opened", alert_id)
    (leaf_a,), (leaf_b,) = (_rows(world, "SELECT leaf FROM log_entries WHERE idx = :i", i=i)[0] for i in (first, second))
    _run(world, "UPDATE log_entries SET leaf = :l WHERE idx = :i", l=leaf_b, i=first)
    _run(world, "UPDATE log_entries SET leaf = :l WHERE idx = :i", l=leaf_a, i=second)
    failures = _failures(world)
    assert f"entry {first} (alert.opened" in failures and f"entry {second} (price_mark.used" in failures
    assert "not in the log the checkpoint signed" in failures


def test_a_changed_price_mark_is_named(world):
    run_history(world, 5)
    _run(world, "UPDATE price_marks SET price = :p WHERE commodity_id = 'copper_cathode' AND source = 'manual'",
         p="61000" if world.engine.dialect.name == "sqlite" else 61000)
    failures = _failures(world)
    assert "price mark copper_cathode/" in failures and "the database says 61000" in failures
    assert "the log says 68100.5" in failures


def test_a_price_changed_in_the_log_too_is_named(world):
    run_history(world, 5)
    index, leaf = next((i, bytes(leaf)) for i, leaf in _rows(world, "SELECT idx, leaf FROM log_entries")
                       if b'"price":"68100.5"' in bytes(leaf))
    _run(world, "UPDATE log_entries SET leaf = :l WHERE idx = :i", i=index,
         l=leaf.replace(b'"price":"68100.5"', b'"price":"61000"'))
    assert f"entry {index} (price_mark.used [commodity=copper_cathode]" in _failures(world)


def _truncate(world, size: int) -> None:
    """What an insider does to drop entries: rows, nodes, head and the checkpoints past `size`."""
    for table in ("log_subjects", "log_entries", "evidence_envelopes"):
        column = "log_idx" if table == "evidence_envelopes" else "idx"
        _run(world, f"DELETE FROM {table} WHERE {column} >= :n", n=size)
    _run(world, "DELETE FROM log_nodes WHERE (idx + 1) * power(2, level) > :n", n=size) \
        if world.engine.dialect.name == "postgresql" else \
        _run(world, "DELETE FROM log_nodes WHERE (idx + 1) << level > :n", n=size)
    _run(world, "DELETE FROM log_cosignatures WHERE size > :n", n=size)
    _run(world, "DELETE FROM log_checkpoints WHERE size > :n", n=size)
    _run(world, "UPDATE log_head SET size = :n", n=size)


def test_dropping_the_last_entries_contradicts_the_banks_checkpoint(world):
    run_history(world, 5)
    kept = world.bank_keeps_checkpoint()
    size = parse_checkpoint(parse_note(kept).text).size
    _truncate(world, size - 3)
    assert f"your checkpoint (size {size}," in _failures(world, kept)
    assert "entries were dropped" in _failures(world, kept)
    answer = world.client.get(f"/api/v1/log/consistency?from={size}", headers=as_("bank-north"))
    assert answer.status_code == 409


def test_a_fork_after_the_banks_checkpoint_is_caught(world):
    run_history(world, 5)
    kept = world.bank_keeps_checkpoint()
    held = parse_checkpoint(parse_note(kept).text)
    _truncate(world, held.size - 4)           # rewrite history from before what the bank saw ...
    run_history(world, 5)                     # ... and carry on past it, re-signing
    new = world.context.evidence.sign_checkpoint()
    assert new.size > held.size
    failures = _failures(world, kept)
    assert f"your checkpoint (size {held.size}," in failures
    answer = world.client.get(f"/api/v1/log/consistency?from={held.size}&to={new.size}",
                              headers=as_("bank-north")).json()
    try:
        verify_consistency(held.size, new.size, held.root_hash, new.root_hash,
                           [base64.b64decode(p) for p in answer["proof"]])
    except ProofError as exc:
        assert "forked" in str(exc)
    else:
        raise AssertionError("the bank's consistency check passed on a forked log")


def test_a_kept_checkpoint_of_the_old_history_in_the_pack_is_named(world):
    """The insider rewrote the log but left the log's own record of the old checkpoint."""
    run_history(world, 5)
    kept = world.bank_keeps_checkpoint()
    held = parse_checkpoint(parse_note(kept).text)
    (note, root), = _rows(world, "SELECT note, root_hash FROM log_checkpoints WHERE size = :n", n=held.size)
    _truncate(world, held.size - 4)
    run_history(world, 5)
    _run(world, "INSERT INTO log_checkpoints (size, root_hash, note, signed_at_s) VALUES (:n, :r, :t, :s)",
         n=held.size, r=bytes(root), t=note, s=world.clock())
    failures = _failures(world)
    assert f"checkpoint of size {held.size}:" in failures and "forked" in failures  # the pack alone tells
