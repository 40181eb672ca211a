"""Register encode/decode helpers, the simulated devices' encoders against the drivers' decoders,
and the status → quality mapping."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers import DriverError
from edge.drivers._modbus import read_range
from edge.drivers.scale_modbus import (
    IndicatorDisplay,
    ScaleInputRegisters,
    decode_indicator,
    indicator_sample,
)
from edge.drivers.temperature_modbus import ProbeDisplay, ProbeInputRegisters, decode_probe, probe_sample
from edge.modbus_map import (
    ProbeStatus,
    ScaleStatus,
    counts_to_kg,
    int16_to_register,
    int32_to_registers,
    kg_to_counts,
    register_to_int16,
    registers_to_int32,
)
from firmware_sim.modbus_devices import (
    encode_probe_registers,
    encode_scale_registers,
    scale_status,
)


def test_int32_is_two_registers_high_word_first():
    assert int32_to_registers(100_000) == [0x0001, 0x86A0]
    assert int32_to_registers(-1) == [0xFFFF, 0xFFFF]
    assert registers_to_int32([0xFFFF, 0xFF9C]) == -100


@given(st.integers(min_value=-2**31, max_value=2**31 - 1))
def test_int32_round_trip(value):
    words = int32_to_registers(value)
    assert all(0 <= word <= 0xFFFF for word in words)
    assert registers_to_int32(words) == value


@given(st.integers(min_value=-2**15, max_value=2**15 - 1))
def test_int16_round_trip(value):
    assert register_to_int16(int16_to_register(value)) == value


def test_int16_negative_is_twos_complement():
    assert int16_to_register(-1825) == 0xF8DF


def test_weight_counts_follow_decimals():
    assert kg_to_counts(10_000.3, 1) == 100_003
    assert kg_to_counts(812.47, 2) == 81_247
    assert counts_to_kg(-69, 1) == -6.9


def test_read_range_covers_all_registers():
    assert read_range({"a": (10, 2), "b": (14, 1)}) == (10, 5)


def test_read_range_names_overlapping_registers():
    with pytest.raises(ValueError, match="status overlaps net_weight at register 1"):
        read_range({"net_weight": (0, 2), "status": (1, 1)})


def test_read_range_refuses_more_than_one_read():
    with pytest.raises(ValueError, match="span 201 addresses"):
        read_range({"a": (0, 1), "b": (200, 1)})


def test_scale_registers_round_trip_through_the_driver_decoder():
    status = ScaleStatus.STABLE | ScaleStatus.TARE_ACTIVE
    words = encode_scale_registers(-12.3, 987.6, 1, status, 0)
    display = decode_indicator(words, 0, ScaleInputRegisters())
    assert display == IndicatorDisplay(net_kg=-12.3, status=status, error_code=0)


def test_decoder_reads_a_block_that_starts_above_zero():
    registers = ScaleInputRegisters(net_weight=100, decimals=102, status=103, error_code=104)
    block = int32_to_registers(52_500) + [2, int(ScaleStatus.STABLE), 0]
    assert decode_indicator(block, 100, registers).net_kg == 525.0


def test_decoder_refuses_garbage_decimals():
    words = encode_scale_registers(1.0, 1.0, 1, ScaleStatus.STABLE, 0)
    words[4] = 40
    with pytest.raises(DriverError, match="decimals=40"):
        decode_indicator(words, 0, ScaleInputRegisters())


def test_scale_status_bits():
    assert scale_status(1000.0, 1000.2, 0.0, 30_000.0, 30.0) == ScaleStatus.STABLE
    assert scale_status(1000.0, 2000.0, 0.0, 30_000.0, 30.0) == ScaleStatus(0)
    assert ScaleStatus.OVERLOAD in scale_status(30_001.0, None, 0.0, 30_000.0, 30.0)
    assert ScaleStatus.UNDERLOAD in scale_status(-601.0, None, 0.0, 30_000.0, 30.0)
    assert ScaleStatus.TARE_ACTIVE in scale_status(10.0, None, 5.0, 30_000.0, 30.0)


@pytest.mark.parametrize("status, net_kg, error_code, quality, values", [
    (ScaleStatus.STABLE, 812.5, 0, "good", {"weight_kg": 812.5, "stable": True}),
    (ScaleStatus(0), 812.5, 0, "uncertain", {"weight_kg": 812.5, "stable": False}),
    (ScaleStatus.STABLE, -3.0, 0, "uncertain", {"weight_kg": 0.0, "stable": True}),
    (ScaleStatus.STABLE | ScaleStatus.OVERLOAD, 31_000.0, 0, "bad",
     {"weight_kg": 31_000.0, "stable": True}),
    (ScaleStatus.UNDERLOAD, -700.0, 0, "bad", {"weight_kg": 0.0, "stable": False}),
    (ScaleStatus.ERROR, 0.0, 1, "bad", {"stable": False}),
    (ScaleStatus.STABLE, 5.0, 7, "bad", {"stable": False}),
])
def test_scale_quality_mapping(status, net_kg, error_code, quality, values):
    sample = indicator_sample(IndicatorDisplay(net_kg, status, error_code), "s", 1)
    assert (sample.quality, sample.values) == (quality, values)


def test_probe_registers_round_trip_through_the_driver_decoder():
    words = encode_probe_registers(-18.25, -50.0, 150.0)
    display = decode_probe(words, 0, ProbeInputRegisters(), 100)
    assert display == ProbeDisplay(-18.25, ProbeStatus(0), 0)


def test_probe_clamps_to_its_range_and_says_so():
    display = decode_probe(encode_probe_registers(180.0, -50.0, 150.0), 0, ProbeInputRegisters(), 100)
    assert display.temperature_c == 150.0
    assert display.status == ProbeStatus.OUT_OF_RANGE


@pytest.mark.parametrize("words, quality, values", [
    (encode_probe_registers(4.2, -50.0, 150.0), "good", {"temperature_c": 4.2}),
    (encode_probe_registers(-60.0, -50.0, 150.0), "bad", {"temperature_c": -50.0}),
    (encode_probe_registers(None, -50.0, 150.0), "bad", {}),
])
def test_probe_quality_mapping(words, quality, values):
    sample = probe_sample(decode_probe(words, 0, ProbeInputRegisters(), 100), "t", 1)
    assert (sample.kind, sample.quality, sample.values) == ("temperature", quality, values)
