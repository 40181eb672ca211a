"""Batching, the durable outbox and config validation of the edge agent."""
from __future__ import annotations

import pytest

from edge import protocol
from edge.config import EdgeSettings
from edge.drivers import Sample
from edge.outbox import Batch, Outbox
from edge.pipeline import Batcher
from edge.protocol.settings import ConfigError, load_settings


def samples(n: int, t_ms: int = 1000) -> list[Sample]:
    return [Sample(f"s-{i}", "weight", t_ms, {"weight_kg": float(i)}) for i in range(n)]


def test_batches_hold_at_most_max_readings_in_seq_order(gateway_key):
    batcher = Batcher("gw-1", 5, protocol.Signer(gateway_key), max_readings=50, max_delay_s=1.0)
    batcher.add(samples(120), now_s=10.0)
    assert batcher.due(10.0)
    batches = batcher.flush(10.0)
    decoded = [protocol.decode(b.payload) for b in batches]
    assert [len(e.readings) for e in decoded] == [50, 50, 20]
    assert [(b.epoch, b.seq) for b in batches] == [(5, 1), (5, 2), (5, 3)]
    assert [r.sensor for e in decoded for r in e.readings] == [f"s-{i}" for i in range(120)]
    for envelope in decoded:
        protocol.verify(envelope, gateway_key.public_key())


def test_a_partial_batch_waits_for_max_delay():
    batcher = Batcher("gw-1", 1, None, max_readings=50, max_delay_s=1.0)
    assert batcher.seconds_until_due(0.0) is None
    batcher.add(samples(3), now_s=100.0)
    assert not batcher.due(100.5)
    assert batcher.seconds_until_due(100.5) == pytest.approx(0.5)
    assert batcher.due(101.0)
    assert len(batcher.flush(101.0)) == 1
    assert batcher.flush(101.0) == []


def test_boot_epoch_survives_restarts_and_acks_drop_only_what_they_cover(tmp_path):
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    assert outbox.next_boot_epoch() == 1
    for seq in (1, 2, 3):
        outbox.append(Batch(1, seq, b"x%d" % seq))
    outbox.close()

    outbox = Outbox(path)
    assert outbox.next_boot_epoch() == 2
    outbox.append(Batch(2, 1, b"y1"))
    assert [(b.epoch, b.seq) for b in outbox.pending()] == [(1, 1), (1, 2), (1, 3), (2, 1)]
    assert outbox.ack(2, 5) == 1  # an ack of epoch 2 leaves epoch 1 alone
    assert outbox.ack(1, 2) == 2
    assert [(b.epoch, b.seq, b.payload) for b in outbox.pending()] == [(1, 3, b"x3")]
    assert [(b.epoch, b.seq) for b in outbox.pending(after=(1, 3))] == []
    assert outbox.depth() == 1


def write(tmp_path, text: str):
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_a_bad_field_is_named(tmp_path):
    path = write(tmp_path, "gateway_id: gw-1\nstate_dir: /tmp/x\nbatch: {max_readings: 0}\n")
    with pytest.raises(ConfigError, match=r"batch\.max_readings"):
        load_settings(EdgeSettings, path)


def test_a_bad_driver_block_names_the_driver_and_field(tmp_path):
    path = write(tmp_path, "gateway_id: gw-1\nstate_dir: /tmp/x\ndrivers:\n"
                           "  - {driver: sim_lot, config: {lot: l1, items: -1, item_weight_kg: 5, epc_prefix: AB}}\n")
    with pytest.raises(ConfigError, match="sim_lot: items"):
        load_settings(EdgeSettings, path)


def test_an_unknown_driver_is_refused(tmp_path):
    path = write(tmp_path, "gateway_id: gw-1\nstate_dir: /tmp/x\ndrivers: [{driver: teleport}]\n")
    with pytest.raises(ConfigError, match="unknown driver 'teleport'"):
        load_settings(EdgeSettings, path)


def test_the_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "gateway_id: gw-1\nstate_dir: /tmp/x\nbroker: {port: 1883}\n")
    monkeypatch.setenv("PW_BROKER__PORT", "2883")
    assert load_settings(EdgeSettings, path).broker.port == 2883
