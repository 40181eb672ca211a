"""The outbox's disk bound drops the oldest batches, counts them, and never the newest."""
from __future__ import annotations

from edge.metrics import EdgeMetrics
from edge.outbox import Batch, Outbox


def batch(epoch: int, seq: int, size: int = 1000, readings: int = 10) -> Batch:
    return Batch(epoch, seq, b"x" * size, readings)


def test_beyond_the_bound_the_oldest_go_and_are_counted_across_restarts(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=3500)
    assert [outbox.append(batch(1, seq)) for seq in (1, 2, 3)] == [0, 0, 0]
    assert outbox.append(batch(1, 4)) == 10  # 4000 > 3500: seq 1 goes
    assert [b.seq for b in outbox.pending()] == [2, 3, 4]
    assert outbox.size_bytes() == 3000
    outbox.close()

    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=3500)  # a restart: the count stays
    assert outbox.size_bytes() == 3000 and outbox.dropped_readings() == 10
    assert outbox.append(batch(2, 1, size=3000, readings=50)) == 30  # new epoch; old epoch goes
    assert [(b.epoch, b.seq) for b in outbox.pending()] == [(2, 1)]
    assert outbox.dropped_readings() == 40


def test_a_batch_larger_than_the_bound_is_still_kept(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=100)
    assert outbox.append(batch(1, 1, size=500)) == 0
    assert outbox.depth() == 1


def test_acks_free_their_bytes(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=10_000)
    for seq in range(1, 6):
        outbox.append(batch(1, seq))
    outbox.ack(1, 3)
    assert outbox.size_bytes() == 2000 and outbox.dropped_readings() == 0


def test_metrics_use_their_own_registry(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    outbox.append(batch(1, 1))
    metrics = EdgeMetrics(outbox.depth)
    metrics.readings.inc(7)
    registry = metrics.registry
    assert registry.get_sample_value("pw_edge_readings_total") == 7
    assert registry.get_sample_value("pw_edge_outbox_depth") == 1
    assert registry.get_sample_value("pw_edge_dropped_total") == 0
    assert EdgeMetrics(outbox.depth).registry.get_sample_value("pw_edge_readings_total") == 0


def test_seen_command_ids_are_remembered_until_they_expire(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    assert outbox.remember_command("cmd-1", expires_at_ms=2000, now_ms=1000)
    assert not outbox.remember_command("cmd-1", expires_at_ms=2000, now_ms=1500)
    assert outbox.remember_command("cmd-1", expires_at_ms=9000, now_ms=2001)  # the old one expired
