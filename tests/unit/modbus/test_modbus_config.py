"""Driver configs: defaults match the register map, errors name the field, samples validate."""
from pathlib import Path

import pytest
import yaml

from edge.drivers import DriverConfigError, parse_driver_config
from edge.drivers.scale_modbus import ScaleModbusConfig
from edge.drivers.temperature_modbus import TemperatureModbusConfig
from edge.modbus_map import ProbeInput, ScaleCoil, ScaleInput

SAMPLES = Path(__file__).resolve().parents[3] / "edge" / "drivers" / "samples"


def test_scale_defaults_match_the_register_map():
    config = ScaleModbusConfig(sensor="s", host="h")
    assert (config.port, config.unit_id) == (502, 1)
    assert config.input_registers.net_weight == ScaleInput.NET_WEIGHT
    assert config.input_registers.error_code == ScaleInput.ERROR_CODE
    assert config.coils.tare == ScaleCoil.TARE


def test_probe_defaults_match_the_register_map():
    config = TemperatureModbusConfig(sensor="t", host="h")
    assert config.input_registers.temperature == ProbeInput.TEMPERATURE
    assert config.temperature_divisor == 100


@pytest.mark.parametrize("driver, raw, field", [
    ("scale_modbus", {"host": "h"}, "sensor"),
    ("scale_modbus", {"sensor": "s", "host": "h", "port": 70000}, "port"),
    ("scale_modbus", {"sensor": "s", "host": "h", "unit_id": -1}, "unit_id"),
    ("scale_modbus", {"sensor": "s", "host": "h", "timeout_s": 0}, "timeout_s"),
    ("scale_modbus", {"sensor": "s", "host": "h", "baud": 9600}, "baud"),
    ("scale_modbus", {"sensor": "s", "host": "h", "input_registers": {"status": "x"}},
     "input_registers.status"),
    ("temperature_modbus", {"sensor": "t", "host": ""}, "host"),
    ("temperature_modbus", {"sensor": "t", "host": "h", "temperature_divisor": 7},
     "temperature_divisor"),
])
def test_config_errors_name_the_field(driver, raw, field):
    with pytest.raises(DriverConfigError, match=rf"driver {driver}: {field}:"):
        parse_driver_config(driver, raw)


def test_overlapping_registers_are_refused_with_both_names():
    raw = {"sensor": "s", "host": "h", "input_registers": {"net_weight": 4, "decimals": 5}}
    with pytest.raises(DriverConfigError, match="input_registers: .*decimals overlaps net_weight"):
        parse_driver_config("scale_modbus", raw)


def test_duplicate_command_coils_are_refused():
    raw = {"sensor": "s", "host": "h", "coils": {"zero": 1, "tare": 1}}
    with pytest.raises(DriverConfigError, match="coils: .*tare overlaps zero"):
        parse_driver_config("scale_modbus", raw)


def test_registers_too_far_apart_for_one_read_are_refused():
    raw = {"sensor": "t", "host": "h", "input_registers": {"error_code": 500}}
    with pytest.raises(DriverConfigError, match="input_registers: .*one Modbus read"):
        parse_driver_config("temperature_modbus", raw)


@pytest.mark.parametrize("name", ["scale_modbus", "temperature_modbus"])
def test_sample_config_validates(name):
    block = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    assert block["driver"] == name
    parse_driver_config(name, block["config"])
