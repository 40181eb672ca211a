"""Fixtures of the ingest tests: a real victoria-metrics (InfluxDB write API) on a free port."""
from __future__ import annotations

import json
import shutil

import httpx
import pytest

from backend.demo.ports import free_port
from backend.demo.victoria import VictoriaMetrics as BaseVictoriaMetrics


class VictoriaMetrics(BaseVictoriaMetrics):
    """The server, and what the tests read back from it."""

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
