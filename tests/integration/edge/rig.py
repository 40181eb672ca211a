"""What the edge integration tests share: an in-process backend on a real broker, test
drivers (registered once, here), and an async wait with a deadline."""
from __future__ import annotations

import asyncio
import time

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
