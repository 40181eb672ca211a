"""What the edge integration tests share: an in-process backend on a real broker, test
drivers (registered once, here), and an async wait with a deadline."""
from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from backend.bootstrap import build_context
from backend.settings import BackendSettings
from edge.drivers import Sample, register


class SequenceConfig(BaseModel):
    first: int = 0
    total: int
    per_read: int
    ahead_s: dict[int, float] = {}  # reading number -> how far ahead of the clock its time is


@register("test_sequence", SequenceConfig)
class SequenceDriver:
    """Readings numbered first .. first+total-1 (the number is the weight), then nothing."""

    def __init__(self, config: SequenceConfig, clock) -> None:
        self.config, self.clock, self.sent = config, clock, 0
        self.sensors = (("seq-scale", "weight"),)

    async def read(self) -> list[Sample]:
        count = min(self.config.per_read, self.config.total - self.sent)
        start, self.sent = self.config.first + self.sent, self.sent + count
        return [Sample("seq-scale", "weight", int((self.clock() + self.config.ahead_s.get(n, 0)) * 1000),
                       {"weight_kg": float(n)})
                for n in range(start, start + count)]

    async def aclose(self) -> None:
        pass


def backend(tmp_path, broker, public_pem: str, gateway: str = "gw-sf"):
    return build_context(BackendSettings(
        roles=["ingest"], data_dir=tmp_path / "data", broker={"port": broker.port},
        ingest={"client_id": f"pw-ingest-{tmp_path.name[-20:]}"},
        gateways=[{"id": gateway, "public_key_pem": public_pem}]))


async def until(condition, timeout_s: float, state=lambda: "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out {state()}"
        await asyncio.sleep(0.05)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """A small tmpfs mounted at `path` (root only); skips the test if mounting is refused."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): "
                    "the disk-full and read-only tests need root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file in `folder` until the disk is full; returns it (delete it to free the room)."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler
