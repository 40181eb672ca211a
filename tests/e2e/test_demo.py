"""`pledgewatch demo` as a user runs it: real broker, backend and gateway processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from waiting import wait_for

from backend.demo.ports import free_port


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (how we find what the demo left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def start_demo(state_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "backend.cli", "demo", "--no-browser",
                             "--state-dir", str(state_dir), "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def reading_count(base: str, admin_key: str) -> int:
    return httpx.get(f"{base}/api/v1/health", timeout=5).json()["readings_stored"]


def bad_readings(base: str, admin_key: str, sensor: str) -> list[dict]:
    page = httpx.get(f"{base}/api/v1/readings", params={"sensor": sensor, "limit": 500},
                     headers={"Authorization": f"Bearer {admin_key}"}, timeout=5).json()
    return [r for r in page["readings"] if r["quality"] == "bad"]


def sensors_seen(base: str, admin_key: str, gateway: str) -> set[str]:
    page = httpx.get(f"{base}/api/v1/readings", params={"gateway": gateway, "limit": 500},
                     headers={"Authorization": f"Bearer {admin_key}"}, timeout=5).json()
    return {r["sensor"] for r in page["readings"]}



def wait_for_health(base: str, demo: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert demo.poll() is None, demo.stdout.read()
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).json()["status"] == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the demo's backend never answered /api/v1/health")


def test_demo_streams_readings_and_leaves_nothing_behind(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = start_demo(tmp_path / "state", port)  # stopped below: a fixed --duration races a slow machine
    try:
        wait_for_health(base, demo, timeout_s=60)
        keys = json.loads((tmp_path / "state" / "api-keys.json").read_text())
        first = reading_count(base, keys["admin"])
        assert wait_for(lambda: reading_count(base, keys["admin"]) > first, timeout_s=60, every_s=0.3)
        page = httpx.get(f"{base}/api/v1/readings", params={"limit": 5},
                         headers={"Authorization": f"Bearer {keys['admin']}"}).json()
        assert {r["kind"] for r in page["readings"]} <= {"weight", "rfid", "temperature"}
        # Read over Modbus TCP and LLRP from the `sim devices` processes.
        assert wait_for(lambda: {"lot-nb-1-scale", "lot-nb-1-rfid", "lot-nb-1-temp"}
                        <= sensors_seen(base, keys["admin"], "gw-ningbo"), timeout_s=60, every_s=0.3)
        # A device power cut (through the simulator's control port) is a sensor fault.
        devices = yaml.safe_load((tmp_path / "state" / "sim-devices-gw-ningbo.yaml").read_text())
        httpx.post(f"http://127.0.0.1:{devices['control_port']}/lots/lot-nb-1/power_cut",
                   json={"device": "scale"}, timeout=5).raise_for_status()
        assert wait_for(lambda: bad_readings(base, keys["admin"], "lot-nb-1-scale"), timeout_s=60, every_s=0.3)
        # The backend signs a command; the gateway checks it, runs it and answers signed.
        answer = httpx.post(f"{base}/api/v1/gateways/gw-ningbo/commands", json={"command": "rebirth"},
                            headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=15).json()
        assert (answer["status"], answer["verified"]) == ("ok", True), answer
        gateways = httpx.get(f"{base}/api/v1/gateways",
                             headers={"Authorization": f"Bearer {keys['supervisor']}"}).json()
        assert sorted(g["id"] for g in gateways) == ["gw-ningbo", "gw-qingdao", "gw-shanghai"]
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, output
    assert "API keys" in output and keys["admin"] in output
    assert processes_mentioning(str(tmp_path)) == []


def test_sigterm_stops_every_child_and_a_resumed_demo_keeps_its_keys(tmp_path):
    port = free_port()
    state = tmp_path / "state"
    demo = start_demo(state, port)
    wait_for_health(f"http://127.0.0.1:{port}", demo, timeout_s=60)
    keys = json.loads((state / "api-keys.json").read_text())
    # demo, broker, backend, 3 device simulators, 3 edges
    assert wait_for(lambda: len(processes_mentioning(str(tmp_path))) >= 9, timeout_s=60, every_s=0.3)
    demo.send_signal(signal.SIGTERM)
    demo.communicate(timeout=60)
    assert demo.returncode == 0
    assert processes_mentioning(str(tmp_path)) == []

    demo = start_demo(state, port, "--duration", "3")
    output, _ = demo.communicate(timeout=120)
    assert demo.returncode == 0, output
    assert json.loads((state / "api-keys.json").read_text()) == keys
    assert keys["admin"] in output


def test_write_config_writes_a_runnable_set_for_every_role(tmp_path):
    done = subprocess.run([sys.executable, "-m", "backend.cli", "demo", "--write-config",
                           str(tmp_path / "cfg")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "cfg").iterdir())
    assert {"README.md", "api-keys.json", "backend.yaml", "broker", "keys",
            "edge-gw-shanghai.yaml", "edge-gw-qingdao.yaml", "edge-gw-ningbo.yaml",
            "sim-devices-gw-shanghai.yaml", "sim-devices-gw-qingdao.yaml",
            "sim-devices-gw-ningbo.yaml"} <= set(written)
    assert "pledgewatch backend --config" in (tmp_path / "cfg" / "README.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "backend.cli", "backend", "--config",
                          str(tmp_path / "cfg" / "README.md")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "config" in bad.stderr


def test_ctrl_c_stops_the_gateways_before_the_broker_and_leaves_no_error_in_any_log(tmp_path):
    """A terminal's Ctrl-C signals the whole foreground process group, not only the demo."""
    port = free_port()
    state = tmp_path / "state"
    demo = subprocess.Popen([sys.executable, "-m", "backend.cli", "demo", "--no-browser", "--state-dir", str(state),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, demo, timeout_s=60)
        keys = json.loads((state / "api-keys.json").read_text())
        assert wait_for(lambda: {"gw-ningbo", "gw-qingdao", "gw-shanghai"} <= sensors_gateways(base, keys["admin"]),
                        timeout_s=60, every_s=0.3)
        os.killpg(demo.pid, signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert demo.returncode == 0, output
    logs = {path.name: path.read_text(errors="replace") for path in (state / "logs").glob("*.log")}
    assert len(logs) == 7, sorted(logs)  # backend, 3 device simulators, 3 gateways
    for name, text in logs.items():
        bad = [line for line in text.splitlines()
               if any(word in line for word in ("ERROR", "Traceback", "never retrieved", "Errno"))]
        assert bad == [], f"{name}: {bad[:5]}"


def sensors_gateways(base: str, admin_key: str) -> set[str]:
    gateways = httpx.get(f"{base}/api/v1/gateways", headers={"Authorization": f"Bearer {admin_key}"}, timeout=5).json()
    return {g["id"] for g in gateways if g["online"] and g["last_seq"]}
