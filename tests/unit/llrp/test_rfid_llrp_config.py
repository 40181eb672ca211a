"""rfid_llrp's config: the sample parses, mistakes name the field."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import edge.drivers.rfid_llrp  # noqa: F401  registers "rfid_llrp" until it is a built-in driver module
from edge.drivers import DriverConfigError, parse_driver_config

SAMPLE = Path(__file__).parents[3] / "edge" / "drivers" / "samples" / "rfid_llrp.yaml"


def test_sample_config_parses():
    block = yaml.safe_load(SAMPLE.read_text())
    assert block["driver"] == "rfid_llrp"
    config = parse_driver_config("rfid_llrp", block["config"])
    assert config.antennas == [1, 2] and config.port == 5084


def test_minimal_config_has_defaults():
    config = parse_driver_config("rfid_llrp", {"sensor": "lot-1-rfid", "host": "reader.local"})
    assert config.antennas == [1] and config.round_period_ms is None and config.rospec_id == 1


@pytest.mark.parametrize("change, field", [
    ({"port": 0}, "port"),
    ({"antennas": []}, "antennas"),
    ({"antennas": [1, 1]}, "antennas"),
    ({"antennas": [0]}, "antennas"),
    ({"sensor": "bad sensor"}, "sensor"),
    ({"report_every_n_tags": 70000}, "report_every_n_tags"),
    ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_max_s"),
    ({"round_period_ms": 20000, "dead_after_s": 30}, "dead_after_s"),
    ({"antenas": [1]}, "antenas"),
])
def test_bad_config_names_the_field(change, field):
    with pytest.raises(DriverConfigError, match=field):
        parse_driver_config("rfid_llrp", {"sensor": "lot-1-rfid", "host": "reader.local", **change})
