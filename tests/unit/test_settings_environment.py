"""PW_ environment variables: a typo is refused like an unknown field in the file."""
from __future__ import annotations

import subprocess
import sys

import pytest

from backend.settings import BackendSettings
from edge.config import EdgeSettings
from edge.protocol.settings import ConfigError, check_environment


@pytest.mark.parametrize("name, suggestion", [
    ("PW_DATA_DRI", "PW_DATA_DIR"),
    ("PW_BROKER__PROT", "PW_BROKER__PORT"),
    ("PW_HTTP__PORTT", "PW_HTTP__PORT"),
])
def test_a_misspelt_variable_is_refused_with_the_likely_name(name, suggestion):
    with pytest.raises(ConfigError, match=f"{name} is not a setting of this role \\(did you mean {suggestion}\\?\\)"):
        check_environment(BackendSettings, {name: "x"})


def test_settings_of_every_depth_and_other_programs_variables_pass():
    check_environment(BackendSettings, {"PW_DATA_DIR": "d", "PW_BROKER__PORT": "1", "PW_HTTP__PORT": "2",
                                        "PW_TIMESERIES__STORE": "sqlite", "PW_WEBHOOK_ALLOW_PRIVATE": "1",
                                        "PW_INFLUX_URL": "http://grafana-datasource", "HOME": "/root"})


def test_a_variable_of_another_role_is_refused():
    with pytest.raises(ConfigError, match="PW_HTTP__PORT is not a setting of this role"):
        check_environment(EdgeSettings, {"PW_HTTP__PORT": "8080"})


def test_the_backend_exits_2_with_one_line_naming_the_variable(tmp_path):
    config = tmp_path / "backend.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    done = subprocess.run([sys.executable, "-m", "backend.cli", "backend", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, env={"PW_DATA_DRI": "x", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.strip() == ("pledgewatch: environment: PW_DATA_DRI is not a setting of this role "
                                   "(did you mean PW_DATA_DIR?)")
