"""The watchdog notices a loop that stopped; the outbox survives a corrupt file."""
from __future__ import annotations

import threading

from edge.health import Watchdog
from edge.outbox import Batch, Outbox


def test_the_watchdog_names_the_loop_that_stopped_making_progress():
    stalled = []
    seen = threading.Event()
    watchdog = Watchdog(lambda loop, s: (stalled.append(loop), seen.set()), every_s=0.02)
    watchdog.beat("batch", 60)
    watchdog.beat("uplink", 0.1)  # then never again
    watchdog.start()
    try:
        assert seen.wait(10)
    finally:
        watchdog.stop()
    assert stalled == ["uplink"]


def test_a_corrupt_outbox_is_moved_aside_and_the_next_epoch_jumps_above_the_old_ones(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite")
    assert outbox.next_boot_epoch() == 1
    outbox.append(Batch(1, 1, b"x", 1))
    outbox.close()
    (tmp_path / "outbox.sqlite").write_bytes(b"this is not a database" * 100)
    fresh = Outbox(tmp_path / "outbox.sqlite")
    assert fresh.recreated and fresh.depth() == 0
    assert fresh.next_boot_epoch(at_least=1_800_000_000) == 1_800_000_000
    assert len(list(tmp_path.glob("outbox.sqlite.corrupt-*"))) == 1
