"""The outbox's disk bound evicts the oldest batches (never the newest) and remembers them until
the backend settles them; only those it never got count as dropped. Refused batches are kept."""
from __future__ import annotations

from edge.metrics import EdgeMetrics
from edge.outbox import Batch, Outbox, Settled


def batch(epoch: int, seq: int, size: int = 1000, readings: int = 10) -> Batch:
    return Batch(epoch, seq, b"x" * size, readings)


def test_beyond_the_bound_the_oldest_are_evicted_and_remembered_across_restarts(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=3500)
    assert [outbox.append(batch(1, seq)) for seq in (1, 2, 3)] == [0, 0, 0]
    assert outbox.append(batch(1, 4)) == 10  # 4000 > 3500: seq 1 goes
    assert [b.seq for b in outbox.pending()] == [2, 3, 4]
    assert outbox.size_bytes() == 3000
    outbox.close()

    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=3500)  # a restart: the evicted are remembered
    assert outbox.size_bytes() == 3000 and outbox.evicted() == {1: [1]}
    assert outbox.append(batch(2, 1, size=3000, readings=50)) == 30  # new epoch; old epoch goes
    assert [(b.epoch, b.seq) for b in outbox.pending()] == [(2, 1)]
    assert outbox.evicted() == {1: [1, 2, 3, 4]}
    assert outbox.dropped_readings() == 0  # nobody knows yet whether the backend got them


def test_only_evicted_batches_the_backend_never_got_count_as_dropped(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=3500)
    for seq in range(1, 7):
        outbox.append(batch(1, seq))
    assert outbox.evicted() == {1: [1, 2, 3]}
    settled = outbox.settle(1, stored=[1, 4], refused={}, dropped=[2, 3])  # 1 had arrived before
    assert settled == Settled(removed=1, refused=0, dropped_readings=20)
    assert outbox.evicted() == {} and outbox.dropped_readings() == 20
    assert [b.seq for b in outbox.pending()] == [5, 6] and outbox.size_bytes() == 2000


def test_a_refused_batch_leaves_for_the_forensics_table(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    for seq in range(1, 4):
        outbox.append(Batch(1, seq, f"payload-{seq}".encode(), 1))
    settled = outbox.settle(1, stored=[1, 3], refused={2: "future_timestamp"}, dropped=[])
    assert settled == Settled(removed=3, refused=1, dropped_readings=0)
    assert outbox.depth() == 0 and outbox.size_bytes() == 0
    assert outbox.refused() == [(1, 2, "future_timestamp", b"payload-2")]
    assert outbox.settle(1, stored=[], refused={2: "future_timestamp"}, dropped=[]).refused == 0  # again


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
