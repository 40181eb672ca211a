"""Per-sensor filtering and report-by-exception, between a driver and the batcher (pure).

For scalar kinds (weight, temperature, humidity), each sample goes through, in order:
1. a running median of the last `median_window` usable values (a `bad` sample empties it:
   a fault breaks the series);
2. a quality debounce: a new quality is reported only once it has been seen in
   `debounce_samples` samples in a row (a single glitch is not an event);
3. report-by-exception: the sample is reported when it is the first, when its quality
   changed, when its value moved more than `deadband` (in the value's own unit) from the
   last reported value, or when nothing was reported for `max_silence_s`.
RFID rounds are never filtered or suppressed: every round counts (an empty one too).
"""
from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, replace

from edge.drivers import Sample

MEASUREMENT_FIELD = {"weight": "weight_kg", "temperature": "temperature_c",
                     "humidity": "humidity_pct"}


@dataclass(frozen=True)
class FilterPolicy:
    median_window: int = 1  # 1: no median
    debounce_samples: int = 1  # 1: a quality change is reported at once
    deadband: float | None = None  # None: report every sample
    max_silence_s: float = 300.0


class SensorFilter:
    """The filter state of one sensor."""

    def __init__(self, policy: FilterPolicy) -> None:
        self.policy = policy
        self._window: deque[float] = deque(maxlen=policy.median_window)
        self._reported: Sample | None = None
        self._reported_at_s = 0.0
        self._candidate_quality: str | None = None
        self._candidate_count = 0

    def offer(self, sample: Sample, now_s: float) -> Sample | None:
        """The sample to report (possibly smoothed), or None to stay silent."""
        field = MEASUREMENT_FIELD.get(sample.kind)
        if field is None:
            return sample
        sample = self._smoothed(sample, field)
        if self._debouncing(sample):
            return None
        if not self._worth_reporting(sample, field, now_s):
            return None
        self._reported, self._reported_at_s = sample, now_s
        return sample

    def _smoothed(self, sample: Sample, field: str) -> Sample:
        value = sample.values.get(field)
        if sample.quality == "bad" or value is None:
            self._window.clear()
            return sample
        self._window.append(value)
        if len(self._window) == 1:
            return sample
        return replace(sample, values={**sample.values, field: statistics.median(self._window)})

    def _debouncing(self, sample: Sample) -> bool:
        """True while a new quality has not yet persisted for `debounce_samples` samples."""
        if self._reported is None or sample.quality == self._reported.quality:
            self._candidate_quality, self._candidate_count = None, 0
            return False
        if sample.quality == self._candidate_quality:
            self._candidate_count += 1
        else:
            self._candidate_quality, self._candidate_count = sample.quality, 1
        return self._candidate_count < self.policy.debounce_samples

    def _worth_reporting(self, sample: Sample, field: str, now_s: float) -> bool:
        last = self._reported
        if last is None or self.policy.deadband is None or sample.quality != last.quality:
            return True
        if now_s - self._reported_at_s >= self.policy.max_silence_s:
            return True
        value, last_value = sample.values.get(field), last.values.get(field)
        if value is None or last_value is None:
            return (value is None) != (last_value is None)
        return abs(value - last_value) > self.policy.deadband


class SampleFilters:
    """One SensorFilter per sensor of a driver block, made on first sight."""

    def __init__(self, policy: FilterPolicy) -> None:
        self.policy = policy
        self._by_sensor: dict[str, SensorFilter] = {}

    def apply(self, samples: list[Sample], now_s: float) -> list[Sample]:
        kept = []
        for sample in samples:
            sensor_filter = self._by_sensor.setdefault(sample.sensor, SensorFilter(self.policy))
            reported = sensor_filter.offer(sample, now_s)
            if reported is not None:
                kept.append(reported)
        return kept
