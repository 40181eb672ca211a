"""`pledgewatch --log-format json backend`: one JSON object per line, a line per alert opened
and acknowledged (with its fields) and per HTTP request; no key in any line."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from waiting import wait_for

from backend.demo.ports import free_port
from backend.services.api_keys import hash_api_key

BOOK = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"
ADMIN_KEY = "k-admin-logging-test"


def test_json_logs_carry_alert_lifecycle_and_access_lines(tmp_path):
    port = free_port()
    config = tmp_path / "backend.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "book": str(BOOK), "roles": ["api", "monitor"],
        "http": {"port": port}, "monitor": {"interval_s": 1},
        "api_keys": [{"name": "ops", "role": "admin", "key_hash": hash_api_key(ADMIN_KEY)}]}))
    backend = subprocess.Popen([sys.executable, "-m", "backend.cli", "--log-format", "json", "backend",
                                "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, auth = f"http://127.0.0.1:{port}/api/v1", {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        assert wait_for(lambda: _healthy(base), timeout_s=60, every_s=0.2)
        refused = httpx.post(f"{base}/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"}, headers=auth, timeout=10)
        assert refused.status_code == 409
        alert = {}
        assert wait_for(lambda: alert.update(_open_double_pledge(base, auth)) or alert, timeout_s=60, every_s=0.2)
        acked = httpx.post(f"{base}/alerts/{alert['id']}/ack", json={"note": "on it"}, headers=auth, timeout=10)
        assert acked.status_code == 200
    finally:
        backend.send_signal(signal.SIGTERM)
        output, _ = backend.communicate(timeout=60)
    lines = [json.loads(line) for line in output.splitlines()]  # every line is a JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    lifecycle = [(line["alert"]["action"], line["alert"]["by"]) for line in lines
                 if line["logger"] == "pledgewatch.alerts" and line["alert"]["id"] == alert["id"]]
    assert lifecycle == [("opened", None), ("acknowledged", "ops")]
    assert any(line["logger"] == "uvicorn.access" and f"/api/v1/alerts/{alert['id']}/ack" in line["message"]
               for line in lines)
    assert ADMIN_KEY not in output


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).is_success
    except httpx.HTTPError:
        return False


def _open_double_pledge(base: str, auth: dict) -> dict:
    alerts = httpx.get(f"{base}/alerts", params={"type": "double_pledge_attempt", "state": "open"},
                       headers=auth, timeout=10).json()
    return alerts[0] if alerts else {}
