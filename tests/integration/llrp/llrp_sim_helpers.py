"""Shared by the LLRP integration tests: a model that remembers its rounds, polling helpers."""
from __future__ import annotations

import asyncio
import random
import time

from firmware_sim.models import Lot, RfidModel, TagRead

EPC_PREFIX = "30083B"


class RecordingRfidModel(RfidModel):
    """An RfidModel that keeps every round it produced: (now_s, reads or None)."""

    def __init__(self, items: int = 6, read_rate: float = 1.0, antennas: int = 2, seed: int = 7) -> None:
        super().__init__(Lot.of_items(EPC_PREFIX, items, 25.0), random.Random(seed),
                         read_rate=read_rate, antennas=antennas)
        self.history: list[tuple[float, list[TagRead] | None]] = []

    def inventory_round(self, now_s: float) -> list[TagRead] | None:
        reads = super().inventory_round(now_s)
        self.history.append((now_s, reads))
        return reads

    def present_epcs(self) -> set[str]:
        return {epc.lower() for epc in set(self.lot.items) | self.extra_epcs}


async def wait_until(condition, timeout_s: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)
