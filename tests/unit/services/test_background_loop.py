"""The background loop the monitor, the webhook relay and the checkpoints share."""
from __future__ import annotations

import threading

from backend.services.background import WakeableLoop


class Counting(WakeableLoop):
    def __init__(self, **kwargs) -> None:
        super().__init__(name="counting", every_s=3600, **kwargs)
        self.rounds, self.ran = 0, threading.Event()

    def round(self) -> None:
        self.rounds += 1
        self.ran.set()
        if self.rounds == 1:
            raise RuntimeError("the database went away")


def test_a_failing_round_is_survived_and_a_wake_runs_the_next_at_once():
    loop = Counting()
    loop.start()
    try:
        assert loop.ran.wait(5) and loop.rounds == 1     # first round at once, and it raised
        loop.ran.clear()
        loop.wake()                                      # not an hour later: now
        assert loop.ran.wait(5) and loop.rounds == 2
    finally:
        loop.stop()
    assert not loop._thread.is_alive()


def test_wait_first_waits_a_period_before_its_first_round():
    loop = Counting(wait_first=True)
    loop.start()
    try:
        assert not loop.ran.wait(0.3) and loop.rounds == 0
        loop.wake()
        assert loop.ran.wait(5)
    finally:
        loop.stop()
