"""The sample journal: what was sampled and not yet in the outbox comes back after a crash,
and what reached the outbox never comes back twice."""
from __future__ import annotations

from edge import protocol
from edge.journal import SampleJournal
from edge.outbox import Batch, Outbox


def readings(*weights: float) -> list[protocol.Reading]:
    return [protocol.Reading("scale-1", "weight", 1_000 + int(w), {"weight_kg": w}, clock_synced=w != 2)
            for w in weights]


def test_a_crash_before_the_flush_loses_nothing(tmp_path):
    journal = SampleJournal(tmp_path / "journal")
    journal.write(readings(1, 2))
    journal.write(readings(3))  # then kill -9: the file descriptor is never closed
    restarted = SampleJournal(tmp_path / "journal")
    assert restarted.recover(done=0) == (readings(1, 2, 3), 1)


def test_a_segment_the_outbox_stored_is_not_recovered_again(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite")
    journal = SampleJournal(tmp_path / "journal")
    journal.write(readings(1))
    outbox.append_many([Batch(1, 1, b"batch of reading 1", 1)], journal.rotate())
    journal.write(readings(2))  # sampled after that flush; crash before the next one
    restarted = SampleJournal(tmp_path / "journal")  # the first segment was never deleted
    assert restarted.recover(outbox.journal_done()) == (readings(2), 2)


def test_a_line_cut_short_is_skipped(tmp_path):
    journal = SampleJournal(tmp_path / "journal")
    journal.write(readings(1))
    with open(tmp_path / "journal" / "1.jsonl", "ab") as segment:
        segment.write(b'{"sensor":"scale-1","ki')
    assert SampleJournal(tmp_path / "journal").recover(done=0) == (readings(1), 1)


def test_discard_deletes_done_segments_only(tmp_path):
    journal = SampleJournal(tmp_path / "journal")
    journal.write(readings(1))
    first = journal.rotate()
    journal.write(readings(2))
    journal.discard(first)
    assert sorted(p.name for p in (tmp_path / "journal").iterdir()) == ["2.jsonl"]


def test_segment_numbers_never_restart_below_what_the_outbox_holds(tmp_path):
    """An empty folder after a clean run must not reuse segment 1 (taken for done, then lost)."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    journal = SampleJournal(tmp_path / "journal")
    journal.write(readings(1))
    segment = journal.rotate()
    outbox.append_many([Batch(1, 1, b"batch of reading 1", 1)], segment)
    journal.discard(segment)  # the folder is empty now
    restarted = SampleJournal(tmp_path / "journal", outbox.journal_done())
    restarted.write(readings(2))  # then kill -9
    assert SampleJournal(tmp_path / "journal", outbox.journal_done()).recover(outbox.journal_done()) == (
        readings(2), 2)
