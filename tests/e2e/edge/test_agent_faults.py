"""The real `pledgewatch edge` process when its own machine fails it (issue 19, item 3):
- a loop stops making progress (a device call blocks the event loop): the watchdog makes
  the process exit with status 3 and one critical line naming the loop, for its
  supervisor to restart it;
- a read-only state_dir: one line on stderr saying so, exit status 2, no traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.chaos.harness import WITNESS_AGENT
from tests.integration.edge.rig import tmpfs

pytestmark = pytest.mark.e2e


def config(tmp_path: Path, state_dir: Path, port: int, **extra) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "gateway_id": "gw-faults", "state_dir": str(state_dir), "broker": {"port": port},
        "clock_source": "synced", "batch": {"max_readings": 10, "max_delay_s": 0.1},
        "drivers": [{"driver": "sim_witness", "every_s": 0.01,
                     "config": {"lot": "lot-f", "items": 2, "item_weight_kg": 10.0, "epc_prefix": "6FED9BE4",
                                "rfid_read_rate": 1.0}}], **extra}))
    return path


def run_agent(config_path: Path, tmp_path: Path, timeout_s: float, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "WITNESS_FILE": str(tmp_path / "witness.txt"), **env}
    return subprocess.run([sys.executable, str(WITNESS_AGENT), "edge", "--config", str(config_path)],
                          capture_output=True, text=True, env=env, timeout=timeout_s)


def test_a_stuck_loop_makes_the_watchdog_exit_non_zero(tmp_path, mosquitto):
    path = config(tmp_path, tmp_path / "state", mosquitto.port, watchdog_s=2)
    done = run_agent(path, tmp_path, 60, WITNESS_HANG_AFTER_READS="20")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "watchdog: the sample-0 loop made no progress" in done.stderr or \
        "watchdog: the batch loop made no progress" in done.stderr, done.stderr[-2000:]


def test_a_read_only_state_dir_is_one_clear_line(tmp_path):
    with tmpfs(tmp_path / "state", "1m", read_only=True) as state:
        done = run_agent(config(tmp_path, state, 1), tmp_path, 60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"pledgewatch: state_dir {state} cannot hold the outbox: unable to open database file"]
