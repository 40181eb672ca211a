"""Fixtures of the ingest tests: a real victoria-metrics (InfluxDB write API) on a free port."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.demo.ports import free_port


@dataclass
class VictoriaMetrics:
    port: int
    data_dir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("victoria-metrics"), f"-httpListenAddr=127.0.0.1:{self.port}",
             f"-storageDataPath={self.data_dir}", "-search.latencyOffset=0s", "-retentionPeriod=100y",
             "-loggerLevel=ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self._healthy():
            assert self.process.poll() is None and time.monotonic() < deadline, "victoria-metrics did not start"
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def export(self, metric: str) -> list[dict]:
        """Every stored series of `metric` (VictoriaMetrics names it measurement_field)."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=10)
        response = httpx.get(f"{self.url}/api/v1/export", params={"match[]": metric}, timeout=10)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line]


@pytest.fixture
def victoria(tmp_path):
    if shutil.which("victoria-metrics") is None:
        pytest.fail("victoria-metrics is not installed: run `make test`, which installs it")
    server = VictoriaMetrics(free_port(), tmp_path / "vm-data")
    yield server
    server.stop()
