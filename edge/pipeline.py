"""Turning samples into signed, sequenced batches (no I/O here).

A batch is flushed when it holds `max_readings` readings or when its oldest
reading has waited `max_delay_s`, whichever comes first.
"""
from __future__ import annotations

from edge import protocol
from edge.drivers import Sample
from edge.outbox import Batch


def readings_of(samples: list[Sample], clock_synced: bool) -> list[protocol.Reading]:
    return [protocol.Reading(s.sensor, s.kind, s.time_ms, s.values, s.quality, clock_synced, s.error)
            for s in samples]


class Batcher:
    def __init__(self, gateway: str, epoch: int, signer: protocol.Signer | None,
                 max_readings: int, max_delay_s: float) -> None:
        self.gateway, self.epoch, self.signer = gateway, epoch, signer
        self.max_readings, self.max_delay_s = max_readings, max_delay_s
        self.last_seq = 0
        self._readings: list[protocol.Reading] = []
        self._oldest_at_s: float | None = None

    def add(self, samples: list[Sample], now_s: float, clock_synced: bool = True) -> None:
        """`clock_synced`: whether the gateway's clock was synced when these were taken."""
        self.add_readings(readings_of(samples, clock_synced), now_s)

    def add_readings(self, readings: list[protocol.Reading], now_s: float) -> None:
        if readings and self._oldest_at_s is None:
            self._oldest_at_s = now_s
        self._readings.extend(readings)

    def __len__(self) -> int:
        return len(self._readings)

    def due(self, now_s: float) -> bool:
        return len(self._readings) >= self.max_readings or (
            self._oldest_at_s is not None and now_s - self._oldest_at_s >= self.max_delay_s)

    def seconds_until_due(self, now_s: float) -> float | None:
        """None when empty; 0 when a flush is due now."""
        if self._oldest_at_s is None:
            return None
        if len(self._readings) >= self.max_readings:
            return 0.0
        return max(0.0, self._oldest_at_s + self.max_delay_s - now_s)

    def flush(self, now_s: float) -> list[Batch]:
        """Everything buffered, as batches of at most `max_readings`, in seq order."""
        batches = []
        while self._readings:
            chunk = self._readings[:self.max_readings]
            del self._readings[:self.max_readings]
            self.last_seq += 1
            payload = protocol.encode(self.gateway, self.epoch, self.last_seq, int(now_s * 1000),
                                      chunk, self.signer)
            batches.append(Batch(self.epoch, self.last_seq, payload, len(chunk)))
        self._oldest_at_s = None
        return batches
