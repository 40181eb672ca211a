"""victoria-metrics (it speaks InfluxDB's write API) on a port of ours with its own data dir:
for the tests and `pledgewatch cluster` (`timeseries.store: influxdb`)."""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def find_victoria_metrics() -> str | None:
    return shutil.which("victoria-metrics")


@dataclass
class VictoriaMetrics:
    port: int
    data_dir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, preexec_fn=None, log_file: Path | None = None) -> None:
        """Returns once /health answers. Output goes to `log_file`, or nowhere."""
        log = open(log_file, "ab") if log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [find_victoria_metrics(), f"-httpListenAddr=127.0.0.1:{self.port}",
             f"-storageDataPath={self.data_dir}", "-search.latencyOffset=0s", "-retentionPeriod=100y",
             "-loggerLevel=ERROR"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=preexec_fn)
        if log_file:
            log.close()
        deadline = time.monotonic() + 20
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"victoria-metrics did not start on port {self.port}")
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
