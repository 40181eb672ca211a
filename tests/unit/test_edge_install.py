"""A gateway installs `pledgewatch[edge]` only: `pledgewatch edge` must run without the backend's libraries.

Each run is a fresh interpreter whose import system refuses those libraries (a `sitecustomize`
on PYTHONPATH puts a finder first on sys.meta_path), as a gateway's venv, which lacks them, would.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

BACKEND_ONLY = ("fastapi", "sqlalchemy", "numpy", "influxdb_client", "psycopg")
PLEDGEWATCH = Path(sys.executable).with_name("pledgewatch")  # the console script pip installed
SAMPLES = Path(__file__).resolve().parents[2] / "edge" / "drivers" / "samples"

SITECUSTOMIZE = f"""
import sys

class RefuseBackendLibraries:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BACKEND_ONLY!r}:
            print(f"refused import of {{name}}", file=sys.stderr)
            raise ImportError(f"{{name}} is not installed on a gateway")
        return None

sys.meta_path.insert(0, RefuseBackendLibraries())
"""


def run_without_backend_libraries(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PW_")}, "PYTHONPATH": str(hook)}
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_the_hook_refuses_what_a_gateway_lacks(tmp_path):
    result = run_without_backend_libraries(tmp_path, sys.executable, "-c", "import numpy")
    assert result.returncode == 1 and "refused import of numpy" in result.stderr


def test_edge_help_runs_without_the_backend_libraries(tmp_path):
    for argv in ([str(PLEDGEWATCH), "edge", "--help"], [sys.executable, "-m", "backend.cli", "edge", "--help"]):
        result = run_without_backend_libraries(tmp_path, *argv)
        assert result.returncode == 0, (argv, result.stderr)
        assert "One gateway agent" in result.stdout
        assert "refused import" not in result.stderr


def test_edge_loads_its_config_drivers_and_agent_without_the_backend_libraries(tmp_path):
    """Every driver named, so every driver module loads (they load when a config names them);
    the run stops at the missing key file, after the agent and all it imports are loaded."""
    drivers = [yaml.safe_load(path.read_text()) for path in sorted(SAMPLES.glob("*.yaml"))]
    drivers.append({"driver": "sim_lot", "config": {"lot": "lot-1", "items": 10, "item_weight_kg": 100,
                                                   "epc_prefix": "E200"}})
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump({"gateway_id": "gw-1", "state_dir": str(tmp_path / "state"),
                                      "key_file": str(tmp_path / "missing.key"), "drivers": drivers}))
    result = run_without_backend_libraries(tmp_path, str(PLEDGEWATCH), "edge", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "pledgewatch: cannot load private key" in result.stderr
    assert "refused import" not in result.stderr
