"""Median, debounce and report-by-exception, driven by a fake clock (seconds passed in)."""
from __future__ import annotations

from edge.drivers import Sample
from edge.filtering import FilterPolicy, SampleFilters, SensorFilter


def weight(kg: float | None, quality: str = "good") -> Sample:
    values = {} if kg is None else {"weight_kg": kg, "stable": True}
    return Sample("lot-1-scale", "weight", 0, values, quality)


def reported_values(sensor_filter: SensorFilter, samples, every_s: float = 1.0):
    out = []
    for n, sample in enumerate(samples):
        kept = sensor_filter.offer(sample, now_s=n * every_s)
        out.append(None if kept is None else (kept.values.get("weight_kg"), kept.quality))
    return out


def test_without_a_deadband_every_sample_is_reported_unchanged():
    sensor_filter = SensorFilter(FilterPolicy())
    assert reported_values(sensor_filter, [weight(1.0), weight(1.0), weight(2.0)]) == [
        (1.0, "good"), (1.0, "good"), (2.0, "good")]


def test_the_median_removes_a_single_spike():
    sensor_filter = SensorFilter(FilterPolicy(median_window=3))
    values = [v for v, _ in reported_values(sensor_filter, [weight(x) for x in (100, 101, 900, 102, 101)])]
    assert values == [100, 100.5, 101, 102, 102]  # 900 never shows


def test_deadband_suppresses_small_moves_until_max_silence():
    sensor_filter = SensorFilter(FilterPolicy(deadband=5.0, max_silence_s=10.0))
    samples = [weight(1000.0)] + [weight(1000.0 + n % 3) for n in range(1, 12)] + [weight(1010.0)]
    reported = reported_values(sensor_filter, samples)
    # first one; then silence until 10 s have passed; then the 10 kg move.
    assert [n for n, r in enumerate(reported) if r is not None] == [0, 10, 12]


def test_a_move_beyond_the_deadband_is_reported_at_once():
    sensor_filter = SensorFilter(FilterPolicy(deadband=5.0, max_silence_s=600.0))
    reported = reported_values(sensor_filter, [weight(1000.0), weight(1004.0), weight(994.0)])
    assert reported == [(1000.0, "good"), None, (994.0, "good")]


def test_a_quality_change_is_reported_after_the_debounce_and_never_in_between():
    sensor_filter = SensorFilter(FilterPolicy(debounce_samples=2, deadband=5.0))
    samples = [weight(1000.0), weight(None, "bad"), weight(1000.0),  # one glitch: ignored
               weight(None, "bad"), weight(None, "bad"), weight(None, "bad"),  # a real fault
               weight(1000.0), weight(1000.0)]  # back
    assert reported_values(sensor_filter, samples) == [
        (1000.0, "good"), None, None, None, (None, "bad"), None, None, (1000.0, "good")]


def test_a_bad_sample_restarts_the_median():
    sensor_filter = SensorFilter(FilterPolicy(median_window=3))
    reported = reported_values(sensor_filter, [weight(10.0), weight(10.0), weight(None, "bad"), weight(50.0)])
    assert reported[-1] == (50.0, "good")


def test_rfid_rounds_are_never_suppressed_even_when_identical():
    filters = SampleFilters(FilterPolicy(median_window=5, deadband=1000.0, max_silence_s=3600))
    same_round = Sample("lot-1-rfid", "rfid", 0, {"tags": [{"epc": "ab" * 12}]})
    assert all(filters.apply([same_round], now_s=float(n)) == [same_round] for n in range(5))
    assert filters.apply([Sample("lot-1-rfid", "rfid", 0, {"tags": []})], 6.0) != []


def test_each_sensor_has_its_own_state():
    filters = SampleFilters(FilterPolicy(deadband=1.0))
    a = Sample("a", "temperature", 0, {"temperature_c": 5.0})
    b = Sample("b", "temperature", 0, {"temperature_c": 5.0})
    assert filters.apply([a, b], 0.0) == [a, b]
    assert filters.apply([a, b], 1.0) == []
