"""`timeseries.store: influxdb` end to end, each role in its own process: signed readings of
the demo book over a real Mosquitto into `pledgewatch backend --role ingest`, the points in a
real victoria-metrics (the InfluxDB write API), and `pledgewatch backend` with the monitor and
API roles raising the removal of four coils from lot-sh-1 while the lots keep reporting."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waiting import wait_for

from backend.book.naming import simulated_epcs
from backend.demo.ports import free_port
from backend.services.api_keys import hash_api_key
from edge import protocol
from tests.integration.ingest.conftest import VictoriaMetrics
from tests.integration.ingest.helpers import public_pem

pytestmark = pytest.mark.e2e
BOOK = Path(__file__).resolve().parents[3] / "seeds" / "demo.yaml"
LOTS = {"lot-sh-1": ("gw-shanghai", 40, 12_500.0), "lot-sh-2": ("gw-shanghai", 24, 15_000.0),
        "lot-qd-1": ("gw-qingdao", 60, 2_500.0), "lot-qd-2": ("gw-qingdao", 30, 12_500.0),
        "lot-nb-1": ("gw-ningbo", 50, 1_000.0)}
KEYS = {gw: Ed25519PrivateKey.generate() for gw in ("gw-shanghai", "gw-qingdao", "gw-ningbo")}
ADMIN = {"Authorization": "Bearer k-admin"}
WAIT_S = 60


class Gateways(threading.Thread):
    """Every lot reports every 0.5 s, as its gateway would; `missing` items leave lot-sh-1."""

    def __init__(self, port: int) -> None:
        super().__init__(name="gateways", daemon=True)
        self.missing, self.stopping = 0, threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="t-gateways")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def run(self) -> None:
        seq = 0
        while not self.stopping.wait(0.5):
            seq += 1
            for gateway, readings in self._readings(seq).items():
                payload = protocol.encode(gateway, 1, seq, int(time.time() * 1000), readings,
                                          protocol.Signer(KEYS[gateway]))
                self.client.publish(protocol.topic(gateway, "data"), payload, qos=1)

    def _readings(self, seq: int) -> dict[str, list[protocol.Reading]]:
        now_ms, jitter = int(time.time() * 1000), seq % 3 / 10  # a real scale's last digit moves
        by_gateway: dict[str, list[protocol.Reading]] = {}
        for lot, (gateway, items, item_kg) in LOTS.items():
            present = simulated_epcs(lot, items)[:items - (self.missing if lot == "lot-sh-1" else 0)]
            by_gateway.setdefault(gateway, []).extend([
                protocol.Reading(f"{lot}-scale", "weight", now_ms, {"weight_kg": len(present) * item_kg + jitter}),
                protocol.Reading(f"{lot}-rfid", "rfid", now_ms, {"tags": [{"epc": epc} for epc in present]})])
            if lot == "lot-nb-1":
                by_gateway[gateway].append(
                    protocol.Reading(f"{lot}-temp", "temperature", now_ms, {"temperature_c": -22.0 + jitter}))
        return by_gateway

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def victoria(tmp_path):
    server = VictoriaMetrics(free_port(), tmp_path / "vm-data")
    server.start()
    yield server
    server.stop()


def start(tmp_path: Path, config: Path, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "backend.cli", "backend", "--config", str(config), *args],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def test_the_influx_mode_stores_in_the_tsdb_and_the_monitor_raises_a_removal(tmp_path, mosquitto, victoria):
    http_port = free_port()
    config = tmp_path / "backend.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"), "book": str(BOOK), "roles": ["monitor", "api"],
        "broker": {"port": mosquitto.port}, "http": {"port": http_port},
        "api_keys": [{"name": "admin", "role": "admin", "key_hash": hash_api_key("k-admin")}],
        "gateways": [{"id": gw, "public_key_pem": public_pem(key)} for gw, key in KEYS.items()],
        "timeseries": {"store": "influxdb", "influx_url": victoria.url, "influx_org": "pw", "influx_bucket": "pw"},
        "monitor": {"interval_s": 0.5, "reporting_period_s": 1, "confirmation_s": 3, "clear_s": 5}}))
    monitor_and_api = start(tmp_path, config, "monitor-api")
    ingest = gateways = None
    alerts = lambda: _alerts(http_port)  # noqa: E731
    try:
        # One after the other: two processes migrating one new SQLite database at once collide.
        assert wait_for(lambda: _answers(http_port), WAIT_S)
        ingest = start(tmp_path, config, "ingest", "--role", "ingest", env={"PW_HTTP__PORT": str(free_port())})
        assert wait_for(lambda: b"ingest connected" in (tmp_path / "ingest.log").read_bytes(), WAIT_S)
        gateways = Gateways(mosquitto.port)
        gateways.start()
        assert wait_for(lambda: _scale_points(victoria, "lot-sh-1-scale") >= 4, WAIT_S)  # in the TSDB
        assert [a for a in alerts() if a["type"] == "unauthorized_removal"] == []
        gateways.missing = 4
        assert wait_for(lambda: any(a["type"] == "unauthorized_removal" and a["lot"] == "lot-sh-1"
                                    for a in alerts()), WAIT_S), alerts()
        assert {a["lot"] for a in alerts() if a["type"] == "unauthorized_removal"} == {"lot-sh-1"}
    finally:
        if gateways is not None:
            gateways.stop()
        for process in (ingest, monitor_and_api):
            if process is not None:
                process.terminate()
                process.wait(20)


def _alerts(http_port: int) -> list[dict]:
    return httpx.get(f"http://127.0.0.1:{http_port}/api/v1/alerts", headers=ADMIN, timeout=5).json()


def _answers(http_port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{http_port}/api/v1/alerts", headers=ADMIN, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _scale_points(victoria: VictoriaMetrics, sensor: str) -> int:
    return sum(len(s["values"]) for s in victoria.export("weight_weight_kg") if s["metric"]["sensor"] == sensor)
