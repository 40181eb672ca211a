"""An edge agent publishes N readings through a real Mosquitto; the backend stores exactly N."""
from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient
from pydantic import BaseModel
from waiting import wait_for

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.services.api_keys import hash_api_key
from backend.settings import BackendSettings
from edge.agent import EdgeAgent
from edge.config import EdgeSettings
from edge.drivers import Sample, register
from edge.protocol.keys import new_key_pair

TOTAL_READINGS = 1000
ADMIN_KEY = "pw_test_admin"


class CountingConfig(BaseModel):
    total: int
    per_read: int


@register("test_counting", CountingConfig)
class CountingDriver:
    """Emits readings numbered 0..total-1 across calls, then nothing."""

    def __init__(self, config: CountingConfig, clock) -> None:
        self.config, self.clock, self.sent = config, clock, 0

    async def read(self) -> list[Sample]:
        count = min(self.config.per_read, self.config.total - self.sent)
        start, self.sent = self.sent, self.sent + count
        return [Sample(f"sensor-{n % 7}", "weight", int(self.clock() * 1000), {"weight_kg": float(n)})
                for n in range(start, start + count)]

    async def aclose(self) -> None:
        pass


def backend_settings(tmp_path, broker, public_pem: str) -> BackendSettings:
    return BackendSettings(
        data_dir=tmp_path / "data", broker={"port": broker.port},
        ingest={"client_id": "pw-ingest-it"},
        gateways=[{"id": "gw-it", "public_key_pem": public_pem}],
        api_keys=[{"name": "admin", "role": "admin", "key_hash": hash_api_key(ADMIN_KEY)}])


def edge_settings(tmp_path, broker, key_file) -> EdgeSettings:
    return EdgeSettings(
        gateway_id="gw-it", broker={"port": broker.port}, state_dir=tmp_path / "edge",
        key_file=key_file, batch={"max_readings": 50, "max_delay_s": 0.2},
        drivers=[{"driver": "test_counting", "every_s": 0.01,
                  "config": {"total": TOTAL_READINGS, "per_read": 37}}])


async def run_agent_until(agent: EdgeAgent, done, timeout_s: float) -> None:
    task = asyncio.create_task(agent.run())
    deadline = time.monotonic() + timeout_s
    try:
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)



def test_every_reading_arrives_once_and_is_served_by_the_api(tmp_path, mosquitto):
    private_path, public_path = new_key_pair(tmp_path / "keys", "gw-it")
    context = build_context(backend_settings(tmp_path, mosquitto, public_path.read_text()))
    context.ingest.start()
    try:
        assert context.ingest.connected.wait(10)
        agent = EdgeAgent(edge_settings(tmp_path, mosquitto, private_path))
        outbox = agent.outbox
        asyncio.run(run_agent_until(
            agent, lambda: context.readings.count() >= TOTAL_READINGS and outbox.depth() == 0, 30))

        assert context.readings.count() == TOTAL_READINGS
        metrics = context.metrics.registry
        assert metrics.get_sample_value("pw_readings_stored_total") == TOTAL_READINGS
        assert metrics.get_sample_value("pw_readings_duplicate_total") == 0

        client = TestClient(create_app(context))
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        values, after = [], 0
        while after is not None:
            page = client.get("/api/v1/readings", params={"after_id": after, "limit": 300},
                              headers=headers).json()
            values += [r["values"]["weight_kg"] for r in page["readings"]]
            after = page["next_after_id"]
        assert sorted(values) == [float(n) for n in range(TOTAL_READINGS)]

        gateway = client.get("/api/v1/gateways/gw-it", headers=headers).json()
        assert gateway["info"]["key_id"] == agent.signer.key_id  # from the birth message
        assert gateway["missing_seqs"] == gateway["dropped_seqs"] == gateway["refused_seqs"] == 0
        assert gateway["acked_seq"] == gateway["last_seq"] >= TOTAL_READINGS // 50
        assert client.get("/api/v1/readings").status_code == 401
        # A clean stop publishes the death message itself (the will is for crashes).
        assert wait_for(lambda: not context.ledger.gateways()[0].online, timeout_s=30)
    finally:
        context.close()
